"""Run untrusted generated code against tests in an OS-level jail; decide each verdict outside it.

`run_tests(program, tests)`:

1. plans each test in this (trusted) process (`sandbox_judge`): an ``assert`` is split into *probes*,
   the calls of the program's functions (``f(2)``), and a *check* with the expected values
   (``_ == 5``), which never leaves this process;
2. runs the program, the setup and the probes in a jail (`sandbox_jail`: bubblewrap namespaces, no
   network, no host files, rlimits, cgroups as root), one jail per program, which sends back the probes'
   values as tagged JSON on a pipe, one line per test;
3. evaluates each check here on those plain values. A test counts as passed only when its check is true.

So a program that rebinds builtins, installs hooks, finalizers or signal handlers, or reaches the
interpreter through ctypes changes nothing but the values it returns, which it could have returned
anyway. Tests that cannot be split (several statements, loops, helpers defined in the setup) run *whole*
in the jail with the program (``unsplit_tests="run"``, the default: a program can forge those), or fail
(``unsplit_tests="fail"``). `SandboxResult.unsplit` counts them.

Time: the run stops at ``wall_seconds``, or when a test sends nothing for ``test_seconds`` (tests that
reported before count: partial credit). Where no jail works, `run_tests` raises `SandboxUnavailable`
unless ``allow_unjailed=True`` (or ``RLAD_SANDBOX_ALLOW_UNJAILED=1``): then the child runs directly with
rlimits only, and `SandboxResult.protections` says so. `run_many` runs jobs in parallel threads.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rlad.tasks.code.sandbox_jail import (
    ALLOW_UNJAILED_ENV,
    SandboxUnavailable,
    clean_env,
    in_cgroups,
    jail_command,
    jail_status,
    make_cgroups,
    remove_cgroups,
    unjailed_allowed,
    unjailed_command,
    unnamed_file,
)
from rlad.tasks.code.sandbox_judge import CheckPlan, jail_setup, plan_test, read_verdicts, trusted_names

__all__ = ["SandboxJob", "SandboxLimits", "SandboxResult", "SandboxUnavailable", "run_many", "run_tests"]
UNSPLIT_POLICIES = ("run", "fail")
MAX_RESULT_BYTES = 8 << 20


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one run. CPU, memory and file size apply per process; processes per run."""

    cpu_seconds: int = 2
    wall_seconds: float = 5.0
    test_seconds: float | None = None  # None: only wall_seconds
    memory_bytes: int = 512 << 20
    max_output_bytes: int = 16 << 10
    max_file_bytes: int = 16 << 20
    max_open_files: int = 64
    max_processes: int = 16
    max_value_size: int = 1 << 20  # nodes + characters of all values a run may send back
    unsplit_tests: str = "run"
    allow_unjailed: bool = False
    use_cgroups: bool = True

    def __post_init__(self) -> None:
        if self.cpu_seconds < 1 or self.wall_seconds <= 0 or self.memory_bytes < 64 << 20:
            raise ValueError(f"sandbox limits too small: {self}")
        if self.max_processes < 4:
            raise ValueError(f"max_processes must be at least 4 (the jail needs 3), got {self.max_processes}")
        if self.unsplit_tests not in UNSPLIT_POLICIES:
            raise ValueError(f"unsplit_tests must be one of {UNSPLIT_POLICIES}, got {self.unsplit_tests!r}")


@dataclass(frozen=True)
class SandboxResult:
    """`status`: ``ok``, ``load_error``, ``timeout``, ``cpu_limit``, ``output_limit``, ``exited`` or
    ``crashed``; `unsplit` counts the tests run whole in the jail (forgeable) or failed by policy."""

    passed: int
    total: int
    status: str
    reason: str
    failures: tuple[str, ...] = ()
    stdout: str = ""
    stderr: str = ""
    protections: tuple[str, ...] = ()
    wall_seconds: float = 0.0
    passed_tests: tuple[int, ...] = field(default=())
    unsplit: int = 0

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class SandboxJob:
    program: str
    tests: tuple[str, ...]
    setup: str = ""
    entry_point: str = ""


def run_tests(
    program: str,
    tests: Sequence[str],
    setup: str = "",
    limits: SandboxLimits | None = None,
    tag: str | None = None,
    entry_point: str = "",
) -> SandboxResult:
    """Run `program`, then `setup`, then each test in a jail; count the tests whose checks hold.

    `tag` (random by default; letters, digits, ``_``) names the run in the jail's command line and its
    cgroups, so leftovers can be looked for. Raises SyntaxError for a test that does not parse and
    SandboxUnavailable where no jail works and unjailed runs are not allowed.
    """
    limits = limits or SandboxLimits()
    tag = tag or secrets.token_hex(6)
    if not tag.replace("_", "").isalnum():
        raise ValueError(f"sandbox tag must be letters, digits and '_', got {tag!r}")
    status = jail_status()
    if not status.works and not unjailed_allowed(limits.allow_unjailed):
        raise SandboxUnavailable(
            f"refusing to run untrusted code: {status.reason}; pass SandboxLimits(allow_unjailed=True) or "
            f"set {ALLOW_UNJAILED_ENV}=1 to run it with rlimits only"
        )
    names = trusted_names(setup, program, entry_point)
    plans = [plan_test(t, names) for t in tests]
    tokens = [secrets.token_hex(16) for _ in plans]
    job_tests: list[dict] = []
    for plan, token in zip(plans, tokens):
        if not plan.whole:
            job_tests.append({"probes": list(plan.probes)})
        elif limits.unsplit_tests == "run":
            job_tests.append({"whole": plan.whole, "token": token})
        else:
            job_tests.append({"probes": []})
    result_read, result_write = os.pipe()
    info_read, info_write = os.pipe()
    runs_whole = any(p.whole for p in plans) and limits.unsplit_tests == "run"
    job = {
        "program": program,
        "setup": setup if runs_whole else jail_setup(setup),  # literals may be expected values
        "tests": job_tests,
        "result_fd": result_write,
        "max_value_size": limits.max_value_size,
    }
    if status.works:
        command = jail_command(status.bwrap, status.version, tag, limits.max_file_bytes)
        command[1:1] = ["--info-fd", str(info_write)]
        command += ["/rlad/child.py", tag]
        workdir, env, protections = None, {}, ["bubblewrap"]
    else:
        workdir = tempfile.mkdtemp(prefix=f"rlad_sandbox_{tag}_")
        command, env, protections = unjailed_command(tag), clean_env(workdir), ["unjailed"]
    job["rlimits"] = [
        ("RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 1),
        ("RLIMIT_AS", limits.memory_bytes, limits.memory_bytes),
        ("RLIMIT_FSIZE", limits.max_file_bytes, limits.max_file_bytes),
        ("RLIMIT_NOFILE", limits.max_open_files, limits.max_open_files),
        ("RLIMIT_CORE", 0, 0),
        ("RLIMIT_NPROC", limits.max_processes, limits.max_processes),
    ]
    cgroups = make_cgroups(tag, limits.max_processes, limits.memory_bytes) if limits.use_cgroups else []
    protections += ["rlimits"] + [f"cgroup_{c.parent.name}" for c in cgroups]
    files = {name: unnamed_file() for name in ("stdout", "stderr")}  # name -> (write fd, read fd)
    start, timed_out, proc, raw = time.monotonic(), False, None, b""
    try:
        proc = subprocess.Popen(
            in_cgroups(command, cgroups),
            stdin=subprocess.PIPE,
            stdout=files["stdout"][0],
            stderr=files["stderr"][0],
            pass_fds=(result_write, info_write),
            cwd=workdir or "/",
            env=env,
            start_new_session=True,
        )
        for fd in (result_write, info_write, files["stdout"][0], files["stderr"][0]):
            os.close(fd)
        with contextlib.suppress(BrokenPipeError, OSError):
            proc.stdin.write(marshal.dumps(job))  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        raw, timed_out = _collect(result_read, start, limits)
        if not timed_out:  # the pipe is closed: let the jail finish so that its exit status can be read
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, start + limits.wall_seconds - time.monotonic()))
    finally:
        if proc is None:
            for fd in (result_write, info_write, files["stdout"][0], files["stderr"][0]):
                with contextlib.suppress(OSError):
                    os.close(fd)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            _wait_for_jail(info_read)
        os.close(result_read)
        os.close(info_read)
        remove_cgroups(cgroups)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - start
    texts = {name: _read_and_close(read_fd, limits.max_output_bytes) for name, (_, read_fd) in files.items()}
    returncode = proc.returncode if proc is not None else -1
    verdicts = read_verdicts(raw.decode("utf-8", "replace"), plans, tokens, names, limits.unsplit_tests)
    return _result(verdicts, texts, timed_out, returncode, elapsed, limits, plans, protections)


def run_many(
    jobs: Sequence[SandboxJob], limits: SandboxLimits | None = None, max_workers: int | None = None
) -> list[SandboxResult]:
    """`run_tests` for each job, `max_workers` jails at a time (default: four per CPU, at most 32: a jail
    spends most of its time starting processes, not computing; measured in `sandbox_bench`)."""
    if not jobs:
        return []
    workers = max_workers or min(32, 4 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(
            pool.map(
                lambda j: run_tests(j.program, j.tests, j.setup, limits, entry_point=j.entry_point), jobs
            )
        )


def _collect(fd: int, start: float, limits: SandboxLimits) -> tuple[bytes, bool]:
    """Read the result pipe until EOF; True as second value when a deadline passed first."""
    chunks, size, last = [], 0, time.monotonic()
    poller = select.poll()  # not select.select: a busy trainer may hold descriptors above 1024
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        now = time.monotonic()
        deadline = start + limits.wall_seconds
        if limits.test_seconds is not None:
            deadline = min(deadline, last + limits.test_seconds)
        if now >= deadline:
            return b"".join(chunks), True
        if not poller.poll(max(1, int((deadline - now) * 1000))):
            continue
        data = os.read(fd, 1 << 16)
        if not data:
            return b"".join(chunks), False
        chunks.append(data)
        size += len(data)
        if b"\n" in data:
            last = time.monotonic()
        if size > MAX_RESULT_BYTES:
            return b"".join(chunks), False


def _wait_for_jail(info_fd: int) -> None:
    """Wait (up to 5 s) until the jail's init has exited; its PID namespace's processes go first."""
    try:  # bwrap writes its JSON before the program starts; anything after it is ignored
        info, _ = json.JSONDecoder().raw_decode(os.read(info_fd, 1 << 12).decode("utf-8", "replace").lstrip())
        pid = int(info.get("child-pid", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return
    deadline = time.monotonic() + 5.0
    while pid and time.monotonic() < deadline:
        try:
            if not Path(f"/proc/{pid}/cmdline").read_bytes():
                return  # a zombie: everything in its namespace is gone
        except OSError:
            return
        time.sleep(0.005)


def _result(
    verdicts: dict,
    texts: dict[str, str],
    timed_out: bool,
    returncode: int,
    elapsed: float,
    limits: SandboxLimits,
    plans: list[CheckPlan],
    protections: list[str],
) -> SandboxResult:
    total = len(plans)
    passed = sorted(i for i, ok in verdicts["passed"].items() if ok)
    failures = tuple(f"test {i}: {m}" for i, m in sorted(verdicts["failures"].items()) if m)
    summary = f"{len(passed)}/{total} tests passed"
    detail = failures[0] if failures else ""
    signal_number = returncode - 128 if returncode > 128 else 0
    if timed_out:
        status, detail = "timeout", f"wall-clock limit of {_limit_text(limits)} exceeded"
    elif verdicts["load_error"]:
        status, detail = "load_error", "program failed to load: " + verdicts["load_error"]
        if "[Errno 27]" in detail:  # EFBIG: Python ignores SIGXFSZ, so RLIMIT_FSIZE surfaces as an OSError
            status = "output_limit"
    elif signal_number in (signal.SIGXCPU, signal.SIGKILL) and elapsed >= limits.cpu_seconds:
        status, detail = "cpu_limit", f"CPU time limit of {limits.cpu_seconds} s exceeded"
    elif signal_number == signal.SIGXFSZ:
        status, detail = (
            "output_limit",
            f"output or file size limit of {limits.max_file_bytes} bytes exceeded",
        )
    elif verdicts["done"] and returncode == 0:
        status = "ok"
        if any("[Errno 27]" in f for f in failures):  # EFBIG from RLIMIT_FSIZE, raised inside a test
            status = "output_limit"
    elif signal_number:
        status, detail = "crashed", f"killed by signal {signal.Signals(signal_number).name}"
    else:
        status, detail = "exited", f"program exited before the tests finished (exit code {returncode})"
    unsplit = sum(1 for p in plans if p.whole)
    return SandboxResult(
        passed=len(passed),
        total=total,
        status=status,
        reason=f"{summary}; {detail}" if detail else summary,
        failures=failures,
        stdout=texts["stdout"],
        stderr=texts["stderr"],
        protections=tuple(protections),
        wall_seconds=elapsed,
        passed_tests=tuple(passed),
        unsplit=unsplit,
    )


def _limit_text(limits: SandboxLimits) -> str:
    text = f"{limits.wall_seconds:g} s"
    return text + (f" (or {limits.test_seconds:g} s per test)" if limits.test_seconds is not None else "")


def _read_and_close(fd: int, limit: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, limit).decode("utf-8", "replace")
    finally:
        os.close(fd)
