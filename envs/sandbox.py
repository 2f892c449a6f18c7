"""Run untrusted Python (model-written programs, tool code) in a separate, limited process.

Why a process and not `exec`: an infinite loop, a memory bomb or a fork bomb must never take the
caller down. Each run gets a fresh interpreter (`python -I`) in a private temp dir with RLIMIT_CPU,
RLIMIT_AS, RLIMIT_FSIZE and RLIMIT_NPROC=0 (no fork, no threads), a wall-clock timeout that kills
the whole process group, a network namespace of its own where the kernel allows unprivileged
`unshare -rn`, and inside it an audit hook that refuses sockets, subprocesses, native code, forbidden
imports and writes outside the temp dir. Failures come back as typed `SandboxError` subclasses.

    result = run_code("def f(x):\n    return x * 2", entry="f", args=[21])   # result.value == 42
    batch = run_batch(code, entry="transform", calls=[[grid1], [grid2]])     # per-call outcomes
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentmem.errors import SandboxError

RUNNER = Path(__file__).with_name("sandbox_runner.py")
DEFAULT_ALLOWED_IMPORTS = (
    "numpy", "math", "itertools", "collections", "functools", "operator", "copy", "re", "json",
    "random", "statistics", "heapq", "bisect", "string", "typing", "dataclasses", "fractions",
    "decimal", "datetime", "textwrap", "enum", "array",
)  # fmt: skip


class SandboxTimeoutError(SandboxError):
    """The code ran past its CPU or wall-clock limit and was killed."""


class SandboxMemoryError(SandboxError):
    """The code exceeded its memory limit."""


class SandboxForbiddenError(SandboxError):
    """The code tried something the sandbox refuses (network, processes, files, forbidden imports)."""


class SandboxRuntimeError(SandboxError):
    """The code raised (syntax error, exception in the entry function, missing entry point)."""

    def __init__(self, message: str, *, exc_type: str = "", traceback: str = "") -> None:
        super().__init__(message)
        self.exc_type = exc_type
        self.traceback = traceback


class SandboxCrashError(SandboxError):
    """The sandboxed process died without a readable result (signal, garbled output, setup failure)."""


class SandboxLimits(BaseModel):
    """Resource limits of one sandboxed run (the whole batch of calls shares them)."""

    cpu_s: float = Field(default=10.0, gt=0)
    wall_s: float = Field(default=20.0, gt=0)
    memory_mb: int = Field(default=1024, ge=64)
    fsize_mb: int = Field(default=8, ge=0)
    max_output_bytes: int = Field(default=20_000_000, ge=1024)


class CallOutcome(BaseModel):
    """One call's result inside a batch: a value, or a typed failure description."""

    ok: bool
    value: Any = None
    kind: str | None = None  # exception | memory | recursion | forbidden | syntax
    error_type: str | None = None
    message: str | None = None
    traceback: str | None = None

    def raise_for_error(self) -> None:
        if not self.ok:
            raise _error_for(
                self.kind or "exception", self.error_type or "", self.message or "", self.traceback
            )


class SandboxResult(BaseModel):
    value: Any = None
    stdout: str = ""
    wall_s: float = 0.0


class BatchResult(BaseModel):
    outcomes: list[CallOutcome]
    stdout: str = ""
    wall_s: float = 0.0


def run_code(
    code: str,
    *,
    entry: str | None = None,
    args: list[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    limits: SandboxLimits | None = None,
    allowed_imports: tuple[str, ...] = DEFAULT_ALLOWED_IMPORTS,
    preload: tuple[str, ...] = (),
) -> SandboxResult:
    """Execute `code` (and call `entry(*args, **kwargs)` when given); raise a SandboxError on failure."""
    calls = [{"args": list(args or []), "kwargs": dict(kwargs or {})}] if entry else []
    batch = _run(code, entry, calls, limits or SandboxLimits(), allowed_imports, preload)
    value = None
    if entry:
        outcome = batch.outcomes[0]
        outcome.raise_for_error()
        value = outcome.value
    return SandboxResult(value=value, stdout=batch.stdout, wall_s=batch.wall_s)


def run_batch(
    code: str,
    *,
    entry: str,
    calls: list[list[Any]],
    limits: SandboxLimits | None = None,
    allowed_imports: tuple[str, ...] = DEFAULT_ALLOWED_IMPORTS,
    preload: tuple[str, ...] = (),
) -> BatchResult:
    """Load `code` once and call `entry` on each argument list; per-call exceptions stay per call.

    Load failures (syntax, forbidden import at top level) and whole-process failures (timeout,
    memory, crash) raise; an exception inside one call is reported in that call's outcome.
    """
    payload = [{"args": list(a), "kwargs": {}} for a in calls]
    return _run(code, entry, payload, limits or SandboxLimits(), allowed_imports, preload)


async def arun_batch(code: str, **kwargs: Any) -> BatchResult:
    """Async face of `run_batch`: the wait happens in a worker thread, the event loop stays free."""
    return await asyncio.to_thread(functools.partial(run_batch, code, **kwargs))


async def arun_code(code: str, **kwargs: Any) -> SandboxResult:
    return await asyncio.to_thread(functools.partial(run_code, code, **kwargs))


@functools.lru_cache(maxsize=1)
def network_isolation_available() -> bool:
    """True when unprivileged user+network namespaces work here (`unshare -rn`)."""
    exe = shutil.which("unshare")
    if not exe:
        return False
    try:
        done = subprocess.run([exe, "-rn", "true"], capture_output=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _run(
    code: str,
    entry: str | None,
    calls: list[dict[str, Any]],
    limits: SandboxLimits,
    allowed_imports: tuple[str, ...],
    preload: tuple[str, ...],
) -> BatchResult:
    if not isinstance(code, str) or not code.strip():
        raise SandboxRuntimeError("no code to run", exc_type="ValueError")
    nonce = "@@SANDBOX-" + secrets.token_hex(8) + "@@"
    request = {
        "code": code,
        "entry": entry,
        "calls": calls,
        "limits": limits.model_dump(),
        "allowed_imports": list(allowed_imports),
        "preload": ["numpy", *preload],
        "nonce": nonce,
    }
    argv = [sys.executable, "-I", str(RUNNER)]
    if network_isolation_available():
        argv = [shutil.which("unshare") or "unshare", "-rn", *argv]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="agentmem-sandbox-") as workdir:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": workdir,
            "TMPDIR": workdir,
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxCrashError(f"could not start the sandbox process: {exc}") from exc
        timed_out = False
        try:
            out, err = proc.communicate(json.dumps(request).encode(), timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            out, err = proc.communicate()
        finally:
            _kill_group(proc.pid)  # anything the code left behind in its group dies with it
    wall = time.monotonic() - started
    if timed_out:
        raise SandboxTimeoutError(f"wall-clock limit of {limits.wall_s:g}s exceeded")
    return _parse(out, err, proc.returncode, nonce, limits, wall)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _parse(
    out: bytes, err: bytes, returncode: int, nonce: str, limits: SandboxLimits, wall: float
) -> BatchResult:
    if len(out) > limits.max_output_bytes:
        raise SandboxCrashError(f"output of {len(out)} bytes exceeds the limit of {limits.max_output_bytes}")
    text = out.decode("utf-8", errors="replace")
    marker = text.rfind(nonce)
    if marker < 0:
        stderr = err.decode("utf-8", errors="replace")[-1000:]
        if returncode in (-signal.SIGXCPU, -signal.SIGKILL) and "MemoryError" not in stderr:
            raise SandboxTimeoutError(f"CPU limit of {limits.cpu_s:g}s exceeded (signal {-returncode})")
        if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
            raise SandboxMemoryError(f"memory limit of {limits.memory_mb} MiB exceeded")
        raise SandboxCrashError(
            f"sandbox process ended with code {returncode} and no result: {stderr.strip()}"
        )
    line = text[marker + len(nonce) :].split("\n", 1)[0]
    try:
        report = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SandboxCrashError(f"unreadable sandbox result: {exc}") from exc
    status = report.get("status")
    if status == "setup_error":
        raise SandboxCrashError(f"sandbox set-up failed: {report.get('type')}: {report.get('message')}")
    if status == "load_error":
        raise _error_for(
            report.get("kind", "exception"),
            report.get("type", ""),
            report.get("message", ""),
            report.get("traceback"),
        )
    outcomes = [
        CallOutcome(
            ok=bool(r.get("ok")),
            value=r.get("value"),
            kind=r.get("kind"),
            error_type=r.get("type"),
            message=r.get("message"),
            traceback=r.get("traceback"),
        )
        for r in report.get("results", [])
    ]
    return BatchResult(outcomes=outcomes, stdout=report.get("stdout", ""), wall_s=wall)


def _error_for(kind: str, exc_type: str, message: str, traceback: str | None) -> SandboxError:
    text = f"{exc_type}: {message}" if exc_type else message
    if kind == "forbidden":
        return SandboxForbiddenError(text)
    if kind == "memory":
        return SandboxMemoryError(text or "memory limit exceeded")
    return SandboxRuntimeError(text, exc_type=exc_type, traceback=traceback or "")
