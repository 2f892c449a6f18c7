"""The CLI as a user runs it: a subprocess of the installed `agentmem` entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

AGENTMEM = str(Path(sys.executable).with_name("agentmem"))


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENTMEM, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_commands():
    res = run("--help")
    assert res.returncode == 0, res.stderr
    for command in ("chat", "serve", "doctor", "models", "eval"):
        assert command in res.stdout


def test_help_does_not_import_heavy_packages():
    code = (
        "import sys, agentmem.cli;"
        "heavy = [m for m in ('torch', 'llama_cpp', 'faiss', 'vllm', 'openai', 'playwright', 'sentence_transformers')"
        " if m in sys.modules]; print(heavy)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "[]", res.stdout + res.stderr


def test_doctor_json_parses_and_reports_required_components():
    res = run("doctor", "--json")
    report = json.loads(res.stdout)
    names = {c["name"] for c in report["checks"]}
    assert {"python", "torch", "llama.cpp", "faiss", "model qwen2.5-coder-1.5b", "vllm"} <= names
    for check in report["checks"]:
        assert check["status"] in {"ok", "missing", "error", "optional"}
        if check["status"] != "ok":
            assert check["fix"], check  # every problem comes with a fix hint
    assert res.returncode == (0 if report["ok"] else 1)


def test_models_list_json():
    res = run("models", "list", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"}


def test_chat_rejects_a_bad_schema_file(tmp_path):
    bad = tmp_path / "schema.json"
    bad.write_text('{"type": 12}')
    res = run("chat", "hi", "--json-schema", str(bad))
    assert res.returncode == 2 and "invalid JSON schema" in res.stderr


def test_chat_unknown_model_is_a_clean_error():
    res = run("chat", "hi", "--model", "no-such-model")
    assert res.returncode == 1 and "unknown model" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.model
def test_chat_with_json_schema_on_the_embedded_model(tmp_path):
    schema = tmp_path / "s.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                "required": ["city", "country"],
            }
        )
    )
    res = run(
        "chat",
        "Capital of Italy?",
        "--json-schema",
        str(schema),
        "--model",
        "qwen2.5-coder-0.5b",
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    obj = json.loads(res.stdout)
    assert obj["city"].lower() == "rome" and obj["country"]
