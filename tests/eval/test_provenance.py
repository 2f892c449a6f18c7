"""eval/provenance.py: which commit a result row ran."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from agentmem.eval.provenance import commit_of

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(root, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def test_commit_of_names_the_checkout_and_marks_edits_to_tracked_files(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    _git(repo, "add", "a.py")
    _git(repo, "commit", "-qm", "one")
    head = _git(repo, "rev-parse", "--short=12", "HEAD")
    assert commit_of(repo) == head
    (repo / "notes.txt").write_text("untracked files do not make the code dirty\n")
    assert commit_of(repo) == head
    (repo / "a.py").write_text("x = 2\n")
    assert commit_of(repo) == head + "+dirty"


def test_commit_of_is_none_outside_a_checkout_of_that_very_folder(tmp_path):
    assert commit_of(tmp_path) is None  # not a repository
    repo = tmp_path / "repo"
    (repo / "site-packages").mkdir(parents=True)
    _git(repo, "init", "-q")
    # code installed inside some other repository is not that repository's code
    assert commit_of(repo / "site-packages") is None
