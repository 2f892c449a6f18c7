"""`agentmem memory ...` on a real SQLite file: commands in-process, registration via the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agentmem.memory_store import HashEmbedder, Memory
from agentmem.types import MemoryDraft


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _cli(*args: str, env: dict) -> _Result:
    """Run a `memory` command in-process with these settings (as the env vars would set them)."""
    from typer.testing import CliRunner

    from agentmem.cli.memory import memory_app
    from agentmem.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(memory_app, list(args), env=env)
    finally:
        get_settings.cache_clear()
    return _Result(result.exit_code, result.stdout, result.stderr)


def test_registered_on_the_agentmem_command():
    exe = Path(sys.executable).with_name("agentmem")
    out = subprocess.run([str(exe), "memory", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for command in ("stats", "search", "export", "import", "consolidate", "reembed"):
        assert command in out.stdout


def test_memory_commands(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with Memory("cli", url=url, embedder=HashEmbedder(64)) as mem:
        mem.add_many(
            [
                MemoryDraft(kind="concept", text="rotate the grid clockwise", payload={"env": "arc"}),
                MemoryDraft(kind="concept", text="rotate the grid clockwise", payload={"env": "arc"}),
                MemoryDraft(kind="insight", text="click the submit button", payload={"env": "web"}),
            ]
        )
    env = {"AGENTMEM_MEMORY__URL": url, "AGENTMEM_MEMORY__EMBEDDER": "hash-64"}
    common = ["--namespace", "cli"]
    stats = _cli("stats", *common, env=env)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["items"] == 3

    found = _cli("search", "grid rotation clockwise", "-k", "2", "--filter", "env=arc", *common, env=env)
    hits = json.loads(found.stdout)
    assert len(hits) == 2 and all(h["payload"] == {"env": "arc"} and "similarity" in h["parts"] for h in hits)

    merged = json.loads(_cli("consolidate", "--threshold", "0.99", *common, env=env).stdout)
    assert merged["merged"] == 1 and merged["items_after"] == 2

    dump = tmp_path / "dump.jsonl"
    assert json.loads(_cli("export", str(dump), *common, env=env).stdout)["items"] == 2
    imported = json.loads(_cli("import", str(dump), "--namespace", "copy", env=env).stdout)
    assert imported["items"] == 2

    env32 = {**env, "AGENTMEM_MEMORY__EMBEDDER": "hash-32"}
    mismatch = _cli("search", "grid", *common, env=env32)
    assert mismatch.returncode == 2 and "EmbedderMismatchError" in mismatch.stderr
    redone = json.loads(_cli("reembed", *common, env=env32).stdout)
    assert redone == {"namespace": "cli", "reembedded": 2, "embedder": "hash-32", "dim": 32}
    assert json.loads(_cli("stats", *common, env=env32).stdout)["dim"] == 32

    bad = _cli("stats", "--url", "mysql://x/y", env=env)
    assert bad.returncode == 2 and "InvalidStoreURLError" in bad.stderr
