"""Start an OpenAI-compatible model server as a child process and know when it is ready.

Why a child process: both servers (llama.cpp's and vLLM's) are complete programs with their own
event loop; we only choose safe flags (loopback, a tool-call chat format), wait for `/v1/models`,
and stop the whole process group on exit so no server outlives its owner.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agentmem.errors import LLMUnavailableError

ServeBackend = Literal["llamacpp", "vllm"]
# llama.cpp's format that turns tool calls into structured `tool_calls` (and honours json_object schemas).
LLAMACPP_CHAT_FORMAT = "chatml-function-calling"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(
    backend: ServeBackend,
    model: str,
    *,
    port: int,
    host: str = "127.0.0.1",
    n_ctx: int = 4096,
    n_threads: int | None = None,
    chat_format: str = LLAMACPP_CHAT_FORMAT,
    extra_args: list[str] | None = None,
) -> tuple[list[str], str]:
    """The argv that starts the server, and the model id clients must send."""
    if backend == "llamacpp":
        from agentmem.llm.llamacpp import physical_cores
        from agentmem.llm.models import ensure_model

        path = ensure_model(model)
        alias = model if not model.endswith(".gguf") else Path(model).stem
        argv = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(path),
            "--model_alias",
            alias,
            "--host",
            host,
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            str(n_threads or physical_cores()),
            "--chat_format",
            chat_format,
            "--verbose",
            "False",
        ]
        return [*argv, *(extra_args or [])], alias
    if backend == "vllm":
        from agentmem.llm.vllm_engine import resolve_model_dir, vllm_unavailable_reason

        reason = vllm_unavailable_reason()
        if reason:
            raise LLMUnavailableError(reason)
        model_dir = resolve_model_dir(model)
        argv = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            model_dir,
            "--served-model-name",
            model,
            "--host",
            host,
            "--port",
            str(port),
            "--max-model-len",
            str(n_ctx),
        ]
        return [*argv, *(extra_args or [])], model
    raise LLMUnavailableError(f"unknown serve backend {backend!r} (llamacpp or vllm)")


@dataclass
class ServerProcess:
    """A running server: its base URL, model id and process (in its own process group)."""

    proc: subprocess.Popen[bytes]
    base_url: str
    model: str
    log_path: Path
    _closed: bool = field(default=False, repr=False)

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        """Poll `/v1/models` until it answers; raise with the server's log tail if it dies or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LLMUnavailableError(
                    f"the server exited with code {self.proc.returncode} before answering:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                    if resp.status == 200 and "data" in json.loads(resp.read() or b"{}"):
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.25)
        self.stop()
        raise LLMUnavailableError(f"the server did not answer within {timeout_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL after `grace_s`; idempotent."""
        if self._closed:
            return self.proc.returncode
        self._closed = True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


def start_server(
    backend: ServeBackend,
    model: str,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    n_ctx: int = 4096,
    n_threads: int | None = None,
    log_path: Path | None = None,
    extra_args: list[str] | None = None,
) -> ServerProcess:
    """Launch the server (not yet ready: call `wait_ready`)."""
    port = port or free_port(host)
    argv, alias = server_command(
        backend, model, port=port, host=host, n_ctx=n_ctx, n_threads=n_threads, extra_args=extra_args
    )
    if log_path is None:
        from agentmem.config import get_settings

        log_dir = get_settings().data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"serve-{backend}-{port}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return ServerProcess(proc=proc, base_url=f"http://{host}:{port}/v1", model=alias, log_path=log_path)


@contextlib.contextmanager
def serving(
    backend: ServeBackend, model: str, *, timeout_s: float = 300.0, **kw: object
) -> Iterator[ServerProcess]:
    """`with serving("llamacpp", "qwen2.5-coder-0.5b") as srv:` — ready inside, stopped after."""
    srv = start_server(backend, model, **kw)  # type: ignore[arg-type]
    try:
        srv.wait_ready(timeout_s)
        yield srv
    finally:
        srv.stop()
