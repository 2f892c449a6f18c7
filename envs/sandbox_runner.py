"""The child side of envs/sandbox.py: runs untrusted code under limits and reports one framed JSON result.

Executed as a script (`python -I sandbox_runner.py`) in a fresh process whose cwd is a private temp dir.
Only the standard library and the preloaded modules are imported before the guard goes up. Order:
read the request, preload trusted modules, set rlimits, install the audit hook (no network, no
processes, no writes outside the temp dir, no forbidden imports), then run the user code.
This module must not import agentmem: it is the trusted base of the sandbox and stays tiny.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import sys
import traceback

FORBIDDEN_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "_posixsubprocess", "socket", "_socket", "ssl", "shutil",
        "ctypes", "_ctypes", "cffi", "multiprocessing", "_multiprocessing", "threading", "_thread",
        "signal", "pty", "fcntl", "resource", "mmap", "urllib", "http", "ftplib", "smtplib", "asyncio",
        "selectors", "select", "importlib", "gc", "inspect", "pickle", "marshal", "sys", "builtins",
        "code", "pdb", "webbrowser", "tempfile", "pathlib", "glob", "io", "_io",
    }
)  # fmt: skip
# Audit events that mean process creation, networking, native code or file-system mutation.
BLOCKED_EVENT_PREFIXES = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "os.remove", "os.rename", "os.rmdir", "os.mkdir",
    "os.symlink", "os.link", "os.chmod", "os.chown", "os.truncate", "os.putenv", "os.unsetenv",
    "os.chdir", "os.startfile", "os.add_dll_directory", "ctypes.", "shutil.", "sys.addaudithook",
    "sys.settrace", "sys.setprofile", "pty.", "webbrowser.", "urllib.", "http.", "ftplib.", "smtplib.",
    "mmap.", "resource.setrlimit", "resource.prlimit",
)  # fmt: skip
# Modules whose loading at any depth during user code is refused (libraries never need them for grids).
DANGEROUS_MODULES = frozenset(
    {"subprocess", "_posixsubprocess", "socket", "_socket", "ssl", "ctypes", "_ctypes", "cffi",
     "multiprocessing", "_multiprocessing", "pty", "webbrowser", "urllib", "http", "ftplib", "smtplib"}
)  # fmt: skip
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class SandboxDenied(PermissionError):
    """Raised inside the child when user code attempts a forbidden operation."""


def _main() -> None:
    request = json.loads(sys.stdin.read())
    nonce: str = request["nonce"]
    real_stdout_fd = os.dup(1)
    sandbox_dir = os.path.realpath(os.getcwd())

    def emit(payload: dict) -> None:
        data = (nonce + json.dumps(payload, default=_to_jsonable) + "\n").encode()
        os.write(real_stdout_fd, data)

    try:
        for name in request.get("preload", []):
            __import__(name)
        _set_limits(request["limits"])
    except Exception as exc:  # the sandbox itself could not start: not the user's fault
        emit({"status": "setup_error", "type": type(exc).__name__, "message": str(exc)})
        return

    allowed = frozenset(request.get("allowed_imports", []))

    # The hook depends only on immutable values, and once added it can never be removed or disarmed.
    def audit(event: str, args: tuple) -> None:
        if event == "import":
            top = str(args[0]).split(".")[0]
            if top in DANGEROUS_MODULES and top not in allowed:
                raise SandboxDenied(f"import of {args[0]!r} is not allowed in the sandbox")
            return
        if event == "open":
            path, mode, flags = args[0], args[1], args[2]
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS
            )
            if writing and not _inside(path, sandbox_dir):
                raise SandboxDenied(f"writing {path!r} outside the sandbox dir is not allowed")
            return
        if event.startswith(BLOCKED_EVENT_PREFIXES):
            raise SandboxDenied(f"operation {event!r} is not allowed in the sandbox")

    user_globals: dict = {"__name__": "__sandbox__", "__builtins__": _restricted_builtins(allowed)}
    captured = io.StringIO()
    sys.stdout = captured
    sys.stderr = captured
    sys.addaudithook(audit)
    try:
        exec(compile(request["code"], "<sandbox>", "exec"), user_globals)
    except BaseException as exc:
        emit({"status": "load_error", **_describe(exc), "stdout": _tail(captured)})
        return
    results = []
    entry = request.get("entry")
    if entry:
        fn = user_globals.get(entry)
        if not callable(fn):
            emit({"status": "load_error", "kind": "missing_entry", "type": "NameError",
                  "message": f"the code defines no callable {entry!r}", "stdout": _tail(captured)})  # fmt: skip
            return
        for call in request.get("calls", []):
            try:
                value = fn(*call.get("args", []), **call.get("kwargs", {}))
                results.append({"ok": True, "value": _to_jsonable(value)})
            except BaseException as exc:
                results.append({"ok": False, **_describe(exc)})
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    break
    emit({"status": "ok", "results": results, "stdout": _tail(captured)})


def _set_limits(limits: dict) -> None:
    import resource

    cpu = max(1, int(limits["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = int(limits["fsize_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no fork, no new threads
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _inside(path: object, root: str) -> bool:
    if isinstance(path, int):
        return True  # an already-open descriptor
    try:
        full = os.path.realpath(os.fsdecode(path))
    except Exception:
        return False
    return full == root or full.startswith(root + os.sep)


def _restricted_builtins(allowed: frozenset) -> dict:
    safe = dict(vars(builtins))
    for name in ("breakpoint", "input", "exit", "quit", "help", "copyright", "credits", "license"):
        safe.pop(name, None)
    real_import = builtins.__import__

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.split(".")[0]
        if level == 0 and top in FORBIDDEN_MODULES and top not in allowed:
            raise SandboxDenied(f"import of {name!r} is not allowed in the sandbox")
        return real_import(name, globals, locals, fromlist, level)

    safe["__import__"] = guarded_import
    return safe


def _describe(exc: BaseException) -> dict:
    if isinstance(exc, SandboxDenied):
        kind = "forbidden"
    elif isinstance(exc, MemoryError):
        kind = "memory"
    elif isinstance(exc, RecursionError):
        kind = "recursion"
    elif isinstance(exc, SyntaxError):
        kind = "syntax"
    else:
        kind = "exception"
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(line for line in tb if "sandbox_runner.py" not in line)[-2000:]
    return {"kind": kind, "type": type(exc).__name__, "message": str(exc)[:1000], "traceback": text}


def _tail(buffer: io.StringIO, limit: int = 4000) -> str:
    return buffer.getvalue()[-limit:]


def _to_jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple | set | frozenset):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


if __name__ == "__main__":
    _main()
