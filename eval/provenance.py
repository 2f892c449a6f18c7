"""Which code produced a result: the git commit of the agentmem source tree, when it is a checkout.

Why: a long evaluation is resumed across commits (a session stops, the next one continues), and a
comparison of two arms means something only where both ran the same code. Each result row keeps the
commit its process started with, so a report can say which rows ran what.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import agentmem


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def commit_of(root: Path) -> str | None:
    """`root`'s short commit, with "+dirty" when tracked files differ from it; None outside a checkout
    of `root` itself (an installed wheel inside some other repository is not that repository's code)."""
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return None
    commit = _git(root, "rev-parse", "--short=12", "HEAD")
    if commit is None:
        return None
    changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit + ("+dirty" if changed else "")


@functools.cache
def source_commit() -> str | None:
    """The commit of the code this process runs; read once, so edits after start do not relabel it."""
    return commit_of(Path(agentmem.__file__).resolve().parent.parent)
