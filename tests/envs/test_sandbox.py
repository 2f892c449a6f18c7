"""The sandbox contains hostile programs and reports each failure with its own typed error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentmem.envs.sandbox import (
    SandboxCrashError,
    SandboxForbiddenError,
    SandboxLimits,
    SandboxMemoryError,
    SandboxRuntimeError,
    SandboxTimeoutError,
    arun_batch,
    network_isolation_available,
    run_batch,
    run_code,
)
from agentmem.errors import SandboxError

TIGHT = SandboxLimits(cpu_s=1, wall_s=3, memory_mb=512, fsize_mb=1)
# A handle on the real `os` module reached without an import statement, as an attacker would.
OS_VIA_NUMPY = "import numpy as np\nos_ = np.lib._datasource.os\n"


def test_runs_code_and_returns_json_values() -> None:
    result = run_code("def double(x):\n    return x * 2", entry="double", args=[21])
    assert result.value == 42
    grid = run_code(
        "import numpy as np\ndef f(g):\n    return np.rot90(np.array(g))", entry="f", args=[[[1, 2], [3, 4]]]
    )
    assert grid.value == [[2, 4], [1, 3]]


def test_print_output_is_captured_not_mixed_with_the_result() -> None:
    result = run_code("def f():\n    print('hello')\n    return 7", entry="f")
    assert result.value == 7
    assert "hello" in result.stdout


def test_batch_keeps_per_call_errors_separate() -> None:
    code = "def inv(x):\n    return 1 / x"
    batch = run_batch(code, entry="inv", calls=[[2], [0], [4]])
    assert [o.ok for o in batch.outcomes] == [True, False, True]
    assert batch.outcomes[0].value == 0.5
    assert batch.outcomes[1].error_type == "ZeroDivisionError"
    with pytest.raises(SandboxRuntimeError, match="ZeroDivisionError"):
        batch.outcomes[1].raise_for_error()


async def test_async_batch() -> None:
    batch = await arun_batch("def f(x):\n    return x + 1", entry="f", calls=[[1], [2]])
    assert [o.value for o in batch.outcomes] == [2, 3]


def test_infinite_loop_hits_the_cpu_limit() -> None:
    with pytest.raises(SandboxTimeoutError):
        run_code("def f():\n    while True:\n        pass", entry="f", limits=TIGHT)


def test_sleeping_code_hits_the_wall_limit() -> None:
    code = "import time\ndef f():\n    time.sleep(30)"
    with pytest.raises(SandboxTimeoutError, match="wall-clock"):
        run_code(code, entry="f", limits=SandboxLimits(cpu_s=5, wall_s=1, memory_mb=512))


def test_memory_bomb_is_contained() -> None:
    code = "def f():\n    chunks = []\n    while True:\n        chunks.append(bytearray(50_000_000))"
    # CPU to spare: under load the sandbox's start-up alone can spend TIGHT's one CPU second, and then
    # the CPU limit would stop the bomb before the memory limit is what does
    roomy_cpu = TIGHT.model_copy(update={"cpu_s": 20, "wall_s": 40})
    with pytest.raises(SandboxMemoryError):
        run_code(code, entry="f", limits=roomy_cpu)


@pytest.mark.parametrize(
    "code",
    [
        "import os\ndef f():\n    while True:\n        os.fork()",
        OS_VIA_NUMPY + "def f():\n    while True:\n        os_.fork()",
        OS_VIA_NUMPY + "def f():\n    os_.system('echo hacked')",
        "import subprocess\ndef f():\n    subprocess.run(['ls'])",
        "def f():\n    __import__('subprocess').run(['ls'])",
        "def f():\n    import threading\n    threading.Thread(target=print).start()",
    ],
    ids=["fork-bomb", "fork-bomb-via-module-attr", "os-system", "subprocess", "dunder-import", "threads"],
)
def test_process_creation_is_refused(code: str) -> None:
    with pytest.raises(SandboxForbiddenError):
        run_code(code, entry="f", limits=TIGHT)


@pytest.mark.parametrize(
    "code",
    [
        "import socket\ndef f():\n    socket.create_connection(('1.1.1.1', 80), timeout=1)",
        "def f():\n    import urllib.request\n    urllib.request.urlopen('http://example.com', timeout=1)",
        "import numpy as np\ndef f():\n    s = np.lib._datasource.os.sys.modules\n    return 'socket' in s",
    ],
    ids=["socket", "urllib", "sys-via-attr-is-harmless-but-socket-absent"],
)
def test_network_is_refused(code: str) -> None:
    try:
        result = run_code(code, entry="f", limits=TIGHT)
    except SandboxForbiddenError:
        return
    # Reaching `sys.modules` is possible, but the socket module was never loaded for the user.
    assert result.value is False


def test_network_namespace_probe_is_boolean() -> None:
    assert isinstance(network_isolation_available(), bool)


def test_file_writes_outside_the_temp_dir_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    code = f"def f():\n    open({str(target)!r}, 'w').write('x')"
    with pytest.raises(SandboxForbiddenError):
        run_code(code, entry="f", limits=TIGHT)
    low_level = OS_VIA_NUMPY + f"def f():\n    os_.open({str(target)!r}, os_.O_WRONLY | os_.O_CREAT)"
    with pytest.raises(SandboxForbiddenError):
        run_code(low_level, entry="f", limits=TIGHT)
    delete = OS_VIA_NUMPY + f"def f():\n    os_.remove({str(tmp_path)!r})"
    with pytest.raises(SandboxForbiddenError):
        run_code(delete, entry="f", limits=TIGHT)
    assert not target.exists()
    assert tmp_path.exists()


def test_writes_inside_the_temp_dir_work_but_are_size_limited() -> None:
    ok = run_code("def f():\n    open('a.txt', 'w').write('hi')\n    return open('a.txt').read()", entry="f")
    assert ok.value == "hi"
    with pytest.raises(SandboxRuntimeError, match="File too large"):
        run_code("def f():\n    open('big', 'w').write('x' * 5_000_000)", entry="f", limits=TIGHT)


def test_load_errors_are_typed() -> None:
    with pytest.raises(SandboxRuntimeError, match="SyntaxError"):
        run_code("def f(:\n    pass", entry="f")
    with pytest.raises(SandboxRuntimeError, match="no callable"):
        run_code("x = 1", entry="transform")
    with pytest.raises(SandboxRuntimeError):
        run_code("   ", entry="f")
    with pytest.raises(SandboxRuntimeError, match="SystemExit"):
        run_code("def f():\n    raise SystemExit(3)", entry="f")


def test_guard_cannot_be_disarmed_through_frames() -> None:
    code = (
        "def f():\n"
        "    try:\n        1 / 0\n"
        "    except ZeroDivisionError as e:\n"
        "        frame = e.__traceback__.tb_frame.f_back\n"
        "        for value in list(frame.f_locals.values()):\n"
        "            if isinstance(value, dict) and 'on' in value:\n"
        "                value['on'] = False\n"
        "    __import__('numpy').lib._datasource.os.system('true')\n"
    )
    with pytest.raises(SandboxForbiddenError):
        run_code(code, entry="f", limits=TIGHT)


def test_flooding_stdout_is_cut_off() -> None:
    code = "import numpy as np\ndef f():\n    np.lib._datasource.os.write(1, b'x' * 3_000_000)\n    return 1"
    with pytest.raises(SandboxCrashError):
        run_code(code, entry="f", limits=SandboxLimits(cpu_s=2, wall_s=4, max_output_bytes=1_000_000))


def test_the_caller_survives_every_hostile_program() -> None:
    hostile = [
        "def f():\n    while True:\n        pass",
        "def f():\n    x = [0] * (10**10)",
        OS_VIA_NUMPY + "def f():\n    os_.kill(os_.getppid(), 9)",
    ]
    for code in hostile:
        with pytest.raises(SandboxError):
            run_code(code, entry="f", limits=TIGHT)
    assert os.getpid() > 0
    assert run_code("def f():\n    return 'alive'", entry="f").value == "alive"
