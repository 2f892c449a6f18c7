"""README examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _example(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- readme-example: {name} -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, f"README has no example named {name!r}"
    return match.group(1)


def test_memory_example_runs_as_written(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _example("memory")], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3, result.stdout
    assert "rotate" in lines[0] and "sim=" in lines[0]  # the best hit is about rotation, with its score parts
    assert "'merged': 1" in lines[2]  # the two paraphrases were merged
