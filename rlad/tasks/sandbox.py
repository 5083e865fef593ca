"""Run untrusted generated code against tests in a confined child process; count the tests it passes.

`run_tests(program, tests)` starts ``python -I -S -B sandbox_child.py`` (see that file for what the child
does to itself before running anything) with:

- a fresh temporary working directory, removed afterwards, and a minimal environment (nothing inherited:
  no tokens, keys or proxies of the parent);
- its own session, so the whole process group is SIGKILLed when it ends or when the wall-clock limit
  passes; as root, cgroups made here cap its processes and memory and are swept and removed afterwards;
- stdout and stderr in unnamed temporary files capped by RLIMIT_FSIZE (we keep the first
  ``max_output_bytes``), and a third unnamed file for results, which only the harness can fill with
  valid lines: one random token per passed test, created here and never shown to the program.

`SandboxResult.protections` records which protections took effect (they depend on the OS and on running
as root). `run_many` runs jobs in parallel threads, each waiting on its own child.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CHILD = str(Path(__file__).with_name("sandbox_child.py"))
CGROUP_ROOT = Path("/sys/fs/cgroup")
_COMPARE_OPS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one run. CPU and memory apply per process; processes and cgroup memory per run."""

    cpu_seconds: int = 2
    wall_seconds: float = 5.0
    memory_bytes: int = 512 << 20
    max_output_bytes: int = 16 << 10
    max_file_bytes: int = 16 << 20
    max_open_files: int = 64
    max_processes: int = 32
    allow_subprocess: bool = (
        False  # True lets the program fork/exec (an exec'd binary escapes the audit hook)
    )
    use_cgroups: bool = True

    def __post_init__(self) -> None:
        if self.cpu_seconds < 1 or self.wall_seconds <= 0 or self.memory_bytes < 64 << 20:
            raise ValueError(f"sandbox limits too small: {self}")


@dataclass(frozen=True)
class SandboxResult:
    """`status`: ``ok``, ``load_error``, ``timeout``, ``cpu_limit``, ``output_limit``, ``exited`` or ``crashed``."""

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

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class SandboxJob:
    program: str
    tests: tuple[str, ...]
    setup: str = ""


def harden_tests(source: str) -> str:
    """Rewrite test code so comparisons, ``not``, ``and``/``or`` and ``assert`` accept only plain values.

    ``assert f(2) == 5`` becomes ``assert __rlad_truth__(__rlad_cmp__(('==',), f(2), 5))``; the helpers
    (defined in the child before the program runs) raise AssertionError on anything but builtin scalars and
    lists/tuples/sets/dicts of them, so an object with a rigged ``__eq__`` or ``__bool__`` cannot pass.
    Raises SyntaxError for test code that does not parse.
    """
    tree = _Harden().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


class _Harden(ast.NodeTransformer):
    @staticmethod
    def _call(name: str, *args: ast.expr) -> ast.Call:
        return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        ops = ast.Constant(value=tuple(_COMPARE_OPS[type(op)] for op in node.ops))
        return ast.copy_location(self._call("__rlad_cmp__", ops, node.left, *node.comparators), node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            node.operand = self._call("__rlad_truth__", node.operand)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        node.values = [self._call("__rlad_plain__", v) for v in node.values]
        return node

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.generic_visit(node)
        node.test = self._call("__rlad_truth__", node.test)
        return node


def run_tests(
    program: str,
    tests: Sequence[str],
    setup: str = "",
    limits: SandboxLimits | None = None,
    tag: str | None = None,
) -> SandboxResult:
    """Run `program`, then `setup`, then each test (code that raises on failure) in a confined child.

    `tag` (random by default; letters, digits, ``_``) names the run in the child's command line, its
    working directory and its cgroups, so leftovers can be looked for.
    """
    limits = limits or SandboxLimits()
    tag = tag or secrets.token_hex(6)
    if not tag.replace("_", "").isalnum():
        raise ValueError(f"sandbox tag must be letters, digits and '_', got {tag!r}")
    hardened = [harden_tests(t) for t in tests]
    tokens = [secrets.token_hex(16) for _ in tests]
    info = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix=f"rlad_sandbox_{tag}_")
    files = {name: _unnamed_file() for name in ("result", "stdout", "stderr")}  # name -> (write fd, read fd)
    cgroups = _make_cgroups(tag, limits) if limits.use_cgroups else []
    job = {
        "program": program,
        "setup": harden_tests(setup) if setup else "",
        "tests": hardened,
        "tokens": tokens,
        "info_token": info,
        "result_fd": files["result"][0],
        "cgroups": [str(c) for c in cgroups],
        "allow_subprocess": limits.allow_subprocess,
        "limits": {
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_bytes,
            "max_file_bytes": limits.max_file_bytes,
            "max_open_files": limits.max_open_files,
            "max_processes": limits.max_processes,
        },
    }
    start, timed_out, proc = time.monotonic(), False, None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", CHILD, tag],
            stdin=subprocess.PIPE,
            stdout=files["stdout"][0],
            stderr=files["stderr"][0],
            pass_fds=(files["result"][0],),
            cwd=workdir,
            env=_clean_env(workdir),
            start_new_session=True,
        )
        for write_fd, _ in files.values():
            os.close(write_fd)
        try:
            proc.communicate(json.dumps(job).encode(), timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
    finally:
        if proc is not None:
            _kill_group(proc.pid)
            proc.wait()
        else:
            for write_fd, _ in files.values():
                os.close(write_fd)
        _remove_cgroups(cgroups)
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - start
    texts = {
        name: _read_and_close(read_fd, limits.max_output_bytes if name != "result" else 1 << 22)
        for name, (_, read_fd) in files.items()
    }
    return _result(texts, tokens, info, timed_out, elapsed, limits, bool(cgroups))


def run_many(
    jobs: Sequence[SandboxJob], limits: SandboxLimits | None = None, max_workers: int | None = None
) -> list[SandboxResult]:
    """`run_tests` for each job, `max_workers` children at a time (default: the CPU count)."""
    if not jobs:
        return []
    workers = max_workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(lambda j: run_tests(j.program, j.tests, j.setup, limits), jobs))


def _result(
    texts: dict[str, str],
    tokens: list[str],
    info: str,
    timed_out: bool,
    elapsed: float,
    limits: SandboxLimits,
    cgroups: bool,
) -> SandboxResult:
    index = {t: i for i, t in enumerate(tokens)}
    passed: set[int] = set()
    notes: list[list[str]] = []
    prefix = f"I {info} "
    for line in texts["result"].splitlines():
        if line.startswith("P ") and line[2:].strip() in index:
            passed.add(index[line[2:].strip()])
        elif line.startswith(prefix):
            notes.append(line[len(prefix) :].split(" ", 2))
    kinds = {n[0]: n for n in notes}
    failures = tuple(f"test {n[1]}: {n[2] if len(n) > 2 else ''}" for n in notes if n[0] == "fail")
    protections = ["fresh_workdir", "clean_env", "session_kill", "wall_timeout", "unnamed_result_file"]
    if "protections" in kinds and len(kinds["protections"]) > 1:
        protections += kinds["protections"][1].split(",")
    if cgroups:
        protections.append("cgroup_sweep")
    total = len(tokens)
    summary = f"{len(passed)}/{total} tests passed"
    detail = failures[0] if failures else ""
    if timed_out:
        status, detail = "timeout", f"wall-clock limit of {limits.wall_seconds:g} s exceeded"
    elif "load_error" in kinds:
        status, detail = "load_error", "program failed to load: " + " ".join(kinds["load_error"][1:])
        if "[Errno 27]" in detail:  # EFBIG: Python ignores SIGXFSZ, so RLIMIT_FSIZE surfaces as an OSError
            status = "output_limit"
    elif "done" in kinds:
        status = "ok"
    elif "signal" in kinds:
        sig = int(kinds["signal"][1])
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and elapsed >= limits.cpu_seconds):
            status, detail = "cpu_limit", f"CPU time limit of {limits.cpu_seconds} s exceeded"
        elif sig == signal.SIGXFSZ:
            status, detail = (
                "output_limit",
                f"output or file size limit of {limits.max_file_bytes} bytes exceeded",
            )
        else:
            status, detail = "crashed", f"killed by signal {signal.Signals(sig).name}"
    elif "exit" in kinds:
        status, detail = "exited", f"program exited before the tests finished (exit code {kinds['exit'][1]})"
    else:
        status, detail = "crashed", "the sandbox child ended without reporting"
    return SandboxResult(
        passed=len(passed),
        total=total,
        status=status,
        reason=f"{summary}; {detail}" if detail else summary,
        failures=failures,
        stdout=texts["stdout"],
        stderr=texts["stderr"],
        protections=tuple(dict.fromkeys(protections)),
        wall_seconds=elapsed,
        passed_tests=tuple(sorted(passed)),
    )


def _clean_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
    }


def _unnamed_file() -> tuple[int, int]:
    """A write-only and a read-only descriptor of a temporary file that no longer has a name."""
    fd, path = tempfile.mkstemp(prefix="rlad_sandbox_io_")
    try:
        write_fd, read_fd = os.open(path, os.O_WRONLY | os.O_APPEND), os.open(path, os.O_RDONLY)
    finally:
        os.close(fd)
        os.unlink(path)
    return write_fd, read_fd


def _read_and_close(fd: int, limit: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, limit).decode("utf-8", "replace")
    finally:
        os.close(fd)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _make_cgroups(tag: str, limits: SandboxLimits) -> list[Path]:
    """Per-run cgroup v1 directories capping processes and memory; [] where not available (not root)."""
    if os.geteuid() != 0:
        return []
    settings = {
        "pids": {"pids.max": str(limits.max_processes)},
        "memory": {"memory.limit_in_bytes": str(limits.memory_bytes)},
    }
    made = []
    for controller, values in settings.items():
        path = CGROUP_ROOT / controller / f"rlad_sandbox_{tag}"
        try:
            path.mkdir()
        except OSError:
            continue
        try:
            for name, value in values.items():
                (path / name).write_text(value)
        except OSError:
            _remove_cgroups([path])
            continue
        made.append(path)
    return made


def _remove_cgroups(paths: Sequence[Path]) -> None:
    """SIGKILL whatever is left in each cgroup, then remove it (retrying while processes exit)."""
    for path in paths:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
            except OSError:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.01)
