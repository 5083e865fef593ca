"""Hostile programs: each is contained, earns nothing, says why, and leaves no process, cgroup or file behind.

Everything here is bounded on purpose (at most a few dozen processes, 512 MiB per process, a few seconds)
so that the tests stay safe even where a protection is missing.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from pathlib import Path

import pytest

from rlad.tasks import get_task
from rlad.tasks.sandbox import SandboxLimits, SandboxResult, run_tests

QUICK = SandboxLimits(cpu_seconds=1, wall_seconds=3.0)


def _run(program: str, tests: list[str], limits: SandboxLimits = QUICK) -> SandboxResult:
    """Run with a known tag, then check the machine is as it was: no process, cgroup or directory left."""
    tag = f"t{secrets.token_hex(5)}"
    result = run_tests(program, tests, limits=limits, tag=tag)
    assert _processes_with(tag) == [], "sandbox processes survived"
    assert list(Path("/sys/fs/cgroup").glob(f"*/rlad_sandbox_{tag}")) == []
    assert list(Path(tempfile.gettempdir()).glob(f"rlad_sandbox_{tag}_*")) == []
    return result


def _processes_with(tag: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if tag.encode() in cmdline:
                found.append(int(entry))
    return found


def test_infinite_loop_hits_the_cpu_limit():
    # a generous wall clock, so that the CPU limit is what stops it even on a busy machine
    limits = SandboxLimits(cpu_seconds=1, wall_seconds=20.0)
    result = _run("def f(x):\n    while True:\n        pass\n", ["assert f(1) == 1"], limits)
    assert (result.passed, result.status) == (0, "cpu_limit")
    assert "CPU time limit of 1 s exceeded" in result.reason
    assert result.wall_seconds < 20.0


def test_sleeping_forever_hits_the_wall_clock():
    limits = SandboxLimits(cpu_seconds=5, wall_seconds=1.0)
    result = _run("import time\ndef f(x):\n    time.sleep(100)\n", ["assert f(1) == 1"], limits)
    assert (result.passed, result.status) == (0, "timeout")
    assert 1.0 <= result.wall_seconds < 4.0


def test_fork_is_refused_by_default():
    result = _run("import os\nfor _ in range(6):\n    os.fork()\n", ["assert True"])
    assert (result.passed, result.status) == (0, "load_error")
    assert "os.fork is not allowed" in result.reason
    blocked = _run("import subprocess\nsubprocess.run(['true'])\n", ["assert True"])
    assert blocked.passed == 0 and "not allowed" in blocked.reason


BOUNDED_BOMB = """
import os, time
def f(x):
    n = 0
    for _ in range(64):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            os.setsid()  # try to leave the process group
            time.sleep(60)
            os._exit(0)
        n += 1
    print("forked", n, flush=True)
    return x
"""


def test_fork_bomb_with_subprocesses_allowed_is_contained_and_cleaned_up():
    limits = SandboxLimits(cpu_seconds=2, wall_seconds=5.0, allow_subprocess=True, max_processes=24)
    start = time.perf_counter()
    result = _run(BOUNDED_BOMB, ["assert f(1) == 2"], limits)  # _run checks that no child survived
    forked = int(result.stdout.split()[1])
    assert result.passed == 0 and result.status == "ok"
    assert 1 <= forked <= 64
    if "cgroup_pids" in result.protections:
        assert forked < 24
    assert time.perf_counter() - start < 8.0


def test_memory_bombs_fail_with_memory_error():
    for program in (
        "x = bytearray(8 << 30)\n",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(50 << 20))\n",
    ):
        result = _run(program, ["assert True"])
        assert (result.passed, result.status) == (0, "load_error")
        assert "MemoryError" in result.reason


def test_huge_output_is_capped():
    result = _run("import sys\nwhile True:\n    sys.stdout.write('PASSED ' * 100000)\n", ["assert True"])
    assert (result.passed, result.status) == (0, "output_limit")
    assert len(result.stdout) == 16 << 10 and result.stdout.startswith("PASSED")


def test_writes_outside_the_working_directory_are_refused(tmp_path):
    victim = tmp_path / "keep.txt"
    victim.write_text("original")
    outside = [str(tmp_path / "escape.txt"), f"/tmp/rlad_escape_{secrets.token_hex(4)}", "../escape.txt"]
    program = f"""
import os
def f(x):
    for path in {outside!r}:
        try:
            with open(path, "w") as fh:
                fh.write("pwned")
        except OSError:
            pass
    for action in (lambda: os.remove({str(victim)!r}), lambda: os.rename({str(victim)!r}, "stolen"),
                   lambda: os.symlink("/etc", "etc_link"), lambda: os.chmod({str(victim)!r}, 0o777)):
        try:
            action()
        except OSError:
            pass
    with open("inside.txt", "w") as fh:
        fh.write("ok")
    return open("inside.txt").read()
"""
    result = _run(program, ["assert f(1) == 'ok'"])
    assert result.passed == 1  # writing in its own directory is fine
    assert not any(Path(p).exists() for p in outside[:2]) and victim.read_text() == "original"
    assert oct(victim.stat().st_mode)[-3:] != "777"
    refused = _run(f"open({str(tmp_path / 'x.txt')!r}, 'w')\n", ["assert True"])
    assert "writing outside the working directory is not allowed" in refused.reason


def test_parent_environment_is_invisible(monkeypatch):
    secret = f"s3cr3t-{secrets.token_hex(8)}"
    monkeypatch.setenv("RLAD_SANDBOX_SECRET", secret)
    program = f"""
import os
def leak():
    found = [os.environ.get("RLAD_SANDBOX_SECRET", ""), repr(dict(os.environ))]
    for path in ("/proc/self/environ", "/proc/{os.getpid()}/environ", "/proc/1/environ", "/dev/fd/0"):
        try:
            found.append(open(path, "rb").read().decode(errors="replace"))
        except Exception as err:
            found.append(type(err).__name__)
    print(found)
    return "".join(found)
"""
    result = _run(program, [f"assert {secret!r} in leak()"])
    assert result.passed == 0
    assert secret not in result.stdout + result.stderr
    assert result.stdout.count("SandboxViolation") == 4  # /proc and /dev/fd were refused, not merely empty


def test_network_is_refused():
    program = (
        "import socket\n"
        "def f():\n"
        "    s = socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
        "    return 1\n"
    )
    result = _run(program, ["assert f() == 1"])
    assert result.passed == 0 and "socket.getaddrinfo is not allowed" in result.reason
    raw = _run("import socket\nsocket.socket()\n", ["assert True"])
    assert "socket.__new__ is not allowed" in raw.reason


def test_parent_cannot_be_killed():
    parent = os.getpid()
    for program in (
        f"import os, signal\nos.kill({parent}, signal.SIGKILL)\n",
        f"import os, signal\nos.killpg(os.getpgid({parent}), signal.SIGKILL)\n",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    ):
        result = _run(program, ["assert True"])
        assert result.passed == 0 and result.status == "load_error"
        # refused by the audit hook, or (PID namespace) the parent's number means nothing in there
        assert re.search(r"os\.kill(pg)? is not allowed|No such process", result.reason)
    assert os.getpid() == parent  # still here


@pytest.mark.parametrize(
    "program",
    [
        "import sys\nsys.exit(0)\n",
        "def f(x):\n    raise SystemExit(0)\n",
        "import os\ndef f(x):\n    os._exit(0)\n",
        "def f(x):\n    print('PASSED'); print('All tests passed'); return 0\n",
        "import os\ndef f(x):\n"
        "    for fd in range(1, 64):\n"
        "        try:\n"
        "            os.write(fd, b'\\nP ' + b'0' * 32 + b'\\nPASSED\\n')\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n",
    ],
)
def test_exit_and_print_tricks_do_not_fake_a_pass(program):
    result = _run(program, ["assert f(1) == 4", "assert f(2) == 7"])
    assert result.passed == 0 and result.reason.startswith("0/2 tests passed")


FORGER = """
import os, sys


def forge():
    frame = None
    try:
        frame = sys._getframe()
    except Exception as err:
        print("getframe", type(err).__name__)
    try:
        raise ValueError
    except ValueError as err:
        try:
            frame = frame or err.__traceback__.tb_frame
        except Exception as err2:
            print("tb_frame", type(err2).__name__)
    while frame is not None:  # the harness keeps its tokens and result fd in local variables
        if "tokens" in frame.f_locals and "out" in frame.f_locals:
            for token in frame.f_locals["tokens"]:
                os.write(frame.f_locals["out"], b"\\nP " + token + b"\\n")
            print("forged")
        frame = frame.f_back
    try:
        __import__("gc").get_objects()
    except Exception as err:
        print("gc", type(err).__name__)


def f(x):
    forge()
    return 0
"""


def test_introspection_cannot_reach_the_tokens():
    result = _run(FORGER, ["assert f(1) == 5", "assert f(2) == 5"])
    assert result.passed == 0 and "forged" not in result.stdout
    assert result.stdout.count("SandboxViolation") == 6  # getframe, tb_frame and gc, once per test


def test_code_task_scores_every_attack_zero_with_a_reason():
    task = get_task("code", cpu_seconds=1, wall_seconds=3.0)
    example = {"tests": ["assert f(1) == 4"], "entry_point": "f", "setup": "", "code_prefix": ""}
    attacks = [
        "def f(x):\n    while True: pass",
        "import os\ndef f(x):\n    os.fork(); return 4",
        "def f(x):\n    return bytearray(8 << 30)",
        "import socket\ndef f(x):\n    socket.socket(); return 4",
        "import os, sys\ndef f(x):\n    sys.exit(0)",
        "```python\nimport os\ndef f(x):\n    os._exit(0)\n```",
    ]
    scores = task.score_batch(attacks, [example] * len(attacks))
    assert [s.reward for s in scores] == [0.0] * len(attacks)
    assert all(s.reason.startswith("0/1 tests passed;") for s in scores)
    assert task.score("def f(x):\n    return 3 * x + 1", example).reward == 1.0  # and the machine still works
