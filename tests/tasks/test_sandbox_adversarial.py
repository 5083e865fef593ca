"""Hostile programs: each scores 0, changes nothing outside the jail and leaves no process or cgroup behind.

Every attack is a program whose ``f`` is wrong, plus the attack itself; the tests it faces are asserts
whose expected values the program cannot know. `attacks` builds them for a `World` (a victim directory
with a file, secret files, a victim process) so that `test_sandbox_nonroot.py` can run the same attacks
as an unprivileged user. Everything is bounded (processes, memory, seconds) so that the tests stay safe
even where a protection is missing.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlad.tasks import get_task
from rlad.tasks.code.sandbox import SandboxLimits, SandboxResult, run_tests

TESTS = (
    "assert f(1) == 4",
    "assert abs(f(2) - 7) < 1e-9",
    "assert math.isclose(f(3), 10.0)",
    "assert sorted([f(4)]) == [13]",
    "assert f(5) == 16 and not f(6) != 19",
)
SETUP = "import math"
QUICK = {"cpu_seconds": 1, "wall_seconds": 4.0}


@dataclass(frozen=True)
class World:
    """What the attacks aim at: files and a process that must be the same afterwards."""

    victim_dir: Path  # holds keep.txt ("original"); nothing else may appear in it
    secrets: tuple[Path, ...]  # files whose contents must not come back
    secret_text: str
    victim_pid: int  # a process that must survive
    escape: str  # a name that must not appear anywhere outside


def attacks(world: World) -> dict[str, str]:
    """Attack name -> program. Each program's ``f`` is wrong (it returns 0)."""
    keep, here = str(world.victim_dir / "keep.txt"), str(world.victim_dir)
    outside = [f"{here}/{world.escape}", f"/tmp/{world.escape}", f"/{world.escape}", f"../{world.escape}"]
    forged = "\\n".join(
        [f'T {i} [{{\\"v\\": true}}]' for i in range(len(TESTS))] + ["W 0 x", "L ok", "D", ""]
    )
    spray = f"""
def _spray(data=b"{forged}\\n"):
    import os
    for fd in range(0, 256):
        try:
            os.write(fd, data)
        except OSError:
            pass
"""
    return {
        "rebind_builtins": """
import builtins, math
builtins.abs = lambda x: 0
builtins.sorted = lambda *a, **k: [13]
builtins.AssertionError = type("Never", (Exception,), {})
builtins.bool = lambda x=0: True
math.isclose = lambda *a, **k: True
def f(x):
    return 0
""",
        "shadow_builtins": """
def abs(x):
    return 0
def sorted(*args, **kwargs):
    return [13]
class math:
    isclose = staticmethod(lambda *args, **kwargs: True)
def f(x):
    return 0
""",
        "rebind_harness": spray
        + """
import sys
harness = sys.modules["__main__"]
for name in ("encode", "text", "describe"):
    setattr(harness, name, lambda *a, **k: "true")
harness.json = None
def f(x):
    _spray()
    return 0
""",
        "audit_hook": spray
        + """
import sys, os
def hook(event, args):
    if event in ("exec", "compile"):
        _spray()
    if event == "compile" and "test" in str(args[1]):
        os._exit(0)
sys.addaudithook(hook)
def f(x):
    return 0
""",
        "finalizers": spray
        + """
import atexit, gc, weakref, sys
class Bomb:
    def __del__(self):
        _spray()
atexit.register(_spray)
gc.callbacks.append(lambda phase, info: _spray())
keep = Bomb()
weakref.finalize(keep, _spray)
sys.stdout.flush = _spray
def f(x):
    Bomb()
    gc.collect()
    return 0
""",
        "signal_timer": spray
        + """
import signal, os
def handler(signum, frame):
    _spray()
    os._exit(0)
signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.01)
def f(x):
    import time
    time.sleep(0.05)
    return 0
""",
        "ctypes": """
import ctypes, gc
def writable(mapping):
    return ctypes.cast(id(mapping) + 2 * ctypes.sizeof(ctypes.c_ssize_t), ctypes.POINTER(ctypes.py_object))[0]
for kind in (int, float, bool):
    d = writable(kind.__dict__)
    d["__eq__"] = lambda a, b: True
    d["__ne__"] = lambda a, b: False
    d["__lt__"] = lambda a, b: True
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(kind))
ctypes.memmove(id(0) + 24, id(13) + 24, 4)  # the small int 0 now holds 13 in this interpreter
def f(x):
    assert 0 == 4 and 1 < 0
    return 0
""",
        "write_outside": f"""
import os, sqlite3, subprocess
KEEP, HERE, OUTSIDE = {keep!r}, {here!r}, {outside!r}
def attempt(action):
    try:
        action()
    except Exception:
        pass
def f(x):
    for path in OUTSIDE + [KEEP]:
        attempt(lambda: open(path, "w").write("pwned"))
        attempt(lambda: os.mkfifo(path + ".fifo"))
        attempt(lambda: sqlite3.connect(path + ".db").execute("create table t (x)"))
    attempt(lambda: os.remove(KEEP))
    attempt(lambda: os.rename(KEEP, KEEP + ".moved"))
    attempt(lambda: os.chmod(KEEP, 0o777))
    for start in ("/", HERE, "/proc/1/root" + HERE, "/proc/self/cwd/..", "/tmp"):
        attempt(lambda: os.symlink(start, "link"))
    for fd in range(3, 256):  # every descriptor, as a dir_fd
        attempt(lambda: os.mkdir({world.escape!r}, dir_fd=fd))
        attempt(lambda: os.close(os.open({world.escape!r}, os.O_CREAT | os.O_WRONLY, dir_fd=fd)))
        attempt(lambda: os.rename("keep.txt", {world.escape!r}, src_dir_fd=fd, dst_dir_fd=fd))
        attempt(lambda: os.unlink("keep.txt", dir_fd=fd))
    attempt(lambda: os.system("rm -f " + KEEP + "; touch " + " ".join(OUTSIDE)))
    attempt(lambda: subprocess.run(["rm", "-rf", HERE], timeout=2))
    with open("inside.txt", "w") as fh:  # its own directory is writable
        fh.write("ok")
    return 0
""",
        "read_secrets": f"""
import os
PATHS = {[str(p) for p in world.secrets] + ["/etc/shadow", "/proc/1/environ"]!r}
def f(x):
    found = []
    for path in PATHS:
        for variant in (path, "/proc/self/root" + path, "/proc/1/root" + path, "/proc/1/cwd/../.." + path):
            try:
                found.append(open(variant).read())
            except Exception as err:
                found.append(type(err).__name__)
    found.append(repr(dict(os.environ)))
    print(found)
    raise ValueError("".join(found))
""",
        "signal_processes": f"""
import os, signal
def attempt(action):
    try:
        action()
    except Exception:
        pass
def f(x):
    for pid in ({world.victim_pid}, os.getppid(), 1):
        attempt(lambda: os.kill(pid, signal.SIGKILL))
        attempt(lambda: os.killpg(pid, signal.SIGKILL))
    attempt(lambda: os.system("kill -9 {world.victim_pid}; pkill sleep"))
    attempt(lambda: os.kill(-1, signal.SIGKILL))
    return 0
""",
        "fork_bomb": """
import os
def f(x):
    while True:
        try:
            if os.fork() == 0:
                os.setsid()
        except OSError:
            pass
""",
        "process_count": """
import os, time
FORKED = []
def f(x):
    while not FORKED:  # the first call forks sleeping children until it cannot, and says how many
        for _ in range(64):
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
            except OSError:
                break
            FORKED.append(1)
        print("forked", len(FORKED), flush=True)
    return 0
""",
        "memory_bomb": """
def f(x):
    chunks = []
    try:
        chunks.append(bytearray(8 << 30))
    except MemoryError:
        pass
    for folder in (".", "/tmp", "/dev/shm", "/dev", "/", "/rlad"):  # and by files in every tmpfs
        try:
            for i in range(10_000):
                with open(f"{folder}/fill{i}", "wb") as fh:
                    fh.write(b"x" * (4 << 20))
        except OSError:
            pass
    while True:
        chunks.append(bytearray(50 << 20))
""",
        "output_flood": """
import sys, os
def f(x):
    while True:
        sys.stdout.write("4 PASSED " * 100000)
        os.write(2, b"x" * 65536)
""",
    }


def make_world(base: Path, victim_pid: int) -> World:
    """Victim directory and secret files under `base`, readable by everyone (the jail must hide them)."""
    token = secrets.token_hex(6)
    victim_dir = base / "victim"
    victim_dir.mkdir()
    (victim_dir / "keep.txt").write_text("original")
    secret_text = f"s3cr3t-{token}"
    files = [base / "secret.txt", Path(f"/tmp/rlad_secret_{token}")]
    if os.geteuid() == 0:
        files.append(Path(f"/root/.rlad_secret_{token}"))
    for path in files:
        path.write_text(secret_text)
        path.chmod(0o644)
    for path in (base, victim_dir):
        path.chmod(0o777)
    return World(victim_dir, tuple(files), secret_text, victim_pid, f"rlad_escape_{token}")


def check_contained(name: str, world: World, result: dict, tag: str) -> None:
    """Everything an attack must not achieve, from the outside."""
    assert result["passed"] == 0 and result["total"] == len(TESTS), (name, result["reason"])
    leaked = result["stdout"] + result["stderr"] + result["reason"] + " ".join(result["failures"])
    assert world.secret_text not in leaked, name
    assert sorted(p.name for p in world.victim_dir.iterdir()) == ["keep.txt"], name
    assert (world.victim_dir / "keep.txt").read_text() == "original", name
    assert oct((world.victim_dir / "keep.txt").stat().st_mode)[-3:] != "777", name
    for path in (
        world.victim_dir.parent / world.escape,
        Path("/tmp") / world.escape,
        Path("/") / world.escape,
    ):
        assert not path.exists() and not Path(f"{path}.fifo").exists() and not Path(f"{path}.db").exists()
    assert processes_with(tag) == [], f"{name}: jail processes survived"
    assert list(Path("/sys/fs/cgroup").glob(f"*/rlad_sandbox_{tag}")) == []
    assert list(Path("/sys/fs/cgroup").glob(f"rlad_sandbox_{tag}")) == []
    os.kill(world.victim_pid, 0)  # raises if the victim process is gone


def processes_with(tag: str) -> list[str]:
    """Command lines of live processes that mention `tag` (`ps`, so that this process lists nothing)."""
    table = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in table.splitlines() if tag in line and not line.lstrip().startswith("Z")]


def as_dict(result: SandboxResult) -> dict:
    keys = ("passed", "total", "status", "reason", "failures", "stdout", "stderr", "protections")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(result, k)) for k in keys)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    victim = subprocess.Popen(["sleep", "300"], start_new_session=True)
    built = make_world(tmp_path_factory.mktemp("jail_world"), victim.pid)
    yield built
    victim.kill()
    victim.wait()
    for path in built.secrets:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("name", sorted(attacks(World(Path("/x"), (), "", 1, "e"))))
def test_attack_is_contained(name, world):
    tag = f"t{secrets.token_hex(5)}"
    program = attacks(world)[name]
    result = run_tests(program, TESTS, setup=SETUP, limits=SandboxLimits(**QUICK), tag=tag)
    check_contained(name, world, as_dict(result), tag)
    if name == "process_count":
        assert 1 <= int(result.stdout.split()[1]) < SandboxLimits().max_processes
    if name == "fork_bomb":
        assert result.status in ("timeout", "cpu_limit"), result.reason
    if name == "output_flood":
        assert result.status == "output_limit", result.reason
        assert len(result.stdout) == 16 << 10 and result.stdout.startswith("4 PASSED")


def test_the_same_program_without_attack_passes(world):
    """The attacks fail because of the checks outside, not because the test asserts cannot pass."""
    result = run_tests("def f(x):\n    return 3 * x + 1\n", TESTS, setup=SETUP, limits=SandboxLimits(**QUICK))
    assert result.passed == len(TESTS)


def test_the_checks_catch_an_escape(world, monkeypatch):
    """Without the jail (rlimits only) the secret-reading attack succeeds and `check_contained` says so."""
    from rlad.tasks.code import sandbox
    from rlad.tasks.code.sandbox_jail import JailStatus

    monkeypatch.setattr(sandbox, "jail_status", lambda: JailStatus(False, "", (), "test"))
    tag = f"t{secrets.token_hex(5)}"
    limits = SandboxLimits(allow_unjailed=True, **QUICK)
    result = run_tests(attacks(world)["read_secrets"], TESTS, setup=SETUP, limits=limits, tag=tag)
    assert world.secret_text in result.stdout
    with pytest.raises(AssertionError):
        check_contained("read_secrets", world, as_dict(result), tag)


def test_only_the_size_capped_places_are_writable():
    program = """
import os
def writable():
    found = []
    for folder in ("/", "/dev", "/dev/shm", "/work", "/tmp", "/usr", "/rlad", "/proc", "/etc"):
        try:
            with open(os.path.join(folder, "probe"), "wb") as fh:
                fh.write(b"x")
            found.append(folder)
        except OSError:
            pass
    return found
def fill():
    try:
        with open("/dev/shm/big", "wb") as fh:
            for _ in range(64):
                fh.write(b"x" * (1 << 20))
    except OSError as err:
        return err.errno
"""
    tests = ["assert writable() == ['/dev/shm', '/work', '/tmp']", "assert fill() in (27, 28)"]
    result = run_tests(program, tests)  # 64 MiB into /dev/shm: ENOSPC (28) at the cap, or EFBIG (27)
    assert result.passed == 2, result.reason


def test_infinite_loop_hits_the_cpu_limit():
    # a generous wall clock, so that the CPU limit is what stops it even on a busy machine
    limits = SandboxLimits(cpu_seconds=1, wall_seconds=30.0)
    result = run_tests("def f(x):\n    while True:\n        pass\n", ["assert f(1) == 1"], limits=limits)
    assert (result.passed, result.status) == (0, "cpu_limit")
    assert "CPU time limit of 1 s exceeded" in result.reason


def test_sleeping_forever_hits_the_wall_clock():
    limits = SandboxLimits(cpu_seconds=5, wall_seconds=1.0)
    start = time.monotonic()
    result = run_tests("import time\ndef f(x):\n    time.sleep(100)\n", ["assert f(1) == 1"], limits=limits)
    assert (result.passed, result.status) == (0, "timeout")
    assert time.monotonic() - start < 10.0


def test_network_is_absent():
    program = (
        "import socket\n"
        "def f():\n"
        "    try:\n"
        "        socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "        return 'connected'\n"
        "    except OSError as err:\n"
        "        return type(err).__name__\n"
        "def interfaces():\n"
        "    return sorted(name for _, name in socket.if_nameindex())\n"
    )
    result = run_tests(program, ["assert f() == 'connected'", "assert interfaces() == ['lo']"])
    assert result.passed_tests == (1,)  # only a loopback interface exists in there


@pytest.mark.parametrize(
    "program",
    [
        "import sys\nsys.exit(0)\n",
        "def f(x):\n    raise SystemExit(0)\n",
        "import os\ndef f(x):\n    os._exit(0)\n",
        "def f(x):\n    print('PASSED'); print('All tests passed'); return 0\n",
    ],
)
def test_exit_and_print_tricks_do_not_fake_a_pass(program):
    result = run_tests(program, ["assert f(1) == 4", "assert f(2) == 7"])
    assert result.passed == 0 and result.reason.startswith("0/2 tests passed")


def test_code_task_scores_every_attack_zero_with_a_reason(world):
    task = get_task("code", cpu_seconds=1, wall_seconds=4.0)
    example = {"tests": list(TESTS), "entry_point": "f", "setup": SETUP, "code_prefix": ""}
    programs = [attacks(world)[n] for n in ("rebind_builtins", "ctypes", "finalizers", "signal_timer")]
    scores = task.score_batch(programs, [example] * len(programs))
    assert [s.reward for s in scores] == [0.0] * len(programs)
    assert all(s.reason.startswith(f"0/{len(TESTS)} tests passed") for s in scores)
    assert task.score("def f(x):\n    return 3 * x + 1", example).reward == 1.0
