"""math-verify with a wall-clock limit per call that works from any thread.

math-verify bounds its own parse/compare calls with ``signal.alarm``. That only works in the main thread
of the main interpreter (elsewhere math-verify raises ``ValueError``), has whole-second granularity, and
applies per step, so one call can take several multiples of the limit. TRL may call reward functions from
worker threads, and a single pathological answer (``\\boxed{9^{9^{9}}}``) must not stall training.

`MathVerifier` therefore runs math-verify in long-lived worker processes (``mode="process"``, the
default): a request is one JSON line on the worker's stdin, the reply one line on its stdout; a worker that
does not answer within ``timeout_s`` is killed (and lazily restarted) and the answer counts as wrong. A
request can be a whole completion (`judge`): finding its final answer runs inside the same time limit.
Workers are started with ``runpy`` on this file, so nothing of the parent (its ``__main__``, threads or
CUDA state) is copied. ``mode="signal"`` uses math-verify's own timeouts in-process when called from the
main thread and falls back to the workers elsewhere.

This file is also the worker's program (see `_worker_main`); it imports nothing from the rlad package, so a
worker starts in about a second: the worker puts this folder on ``sys.path`` and the modules import their
siblings (``math_compare``, the standard-library-only ``math_extract``) as top-level modules there.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

if __package__:  # imported as rlad.tasks.math_verify_timeout
    from rlad.tasks import math_compare
else:  # run as a worker (see `_Worker`): this folder is on sys.path, the rlad package is not imported
    import math_compare  # type: ignore[no-redef]

MODES = ("process", "signal")
WORKER_MEMORY_BYTES = 4 << 30  # address-space cap of a worker; a runaway big-int then fails fast
_STARTUP_TIMEOUT_S = 120.0
_WORKER_RUN_NAME = "__rlad_math_verify_worker__"


@dataclass(frozen=True)
class Verdict:
    """`equal`: the answer matches the gold; `status`: ``ok``, ``timeout`` or ``error`` (with `detail`).

    For a whole completion (`MathVerifier.judge_many`) also the extracted `answer` (at most
    ``max_chars + 1`` characters) and `how` it was found (`math_extract.extract_answer`); a timeout leaves
    them unknown (None, ``"none"``).
    """

    equal: bool
    status: str = "ok"
    detail: str = ""
    answer: str | None = None
    how: str = "none"


def check(gold: str, answer: str, timeout_seconds: int | None = None) -> bool:
    """`math_compare.check`: is `answer` the same mathematical object as `gold`?"""
    return math_compare.check(gold, answer, timeout_seconds)


def judge(gold: str, completion: str, max_chars: int) -> dict[str, Any]:
    """`math_compare.judge`: extract the final answer of `completion` and `check` it."""
    return math_compare.judge(gold, completion, max_chars)


class _Worker:
    """One worker process speaking JSON lines; `fd` is its stdout for `select`."""

    def __init__(self) -> None:
        here = os.path.abspath(__file__)
        # The folder goes last on sys.path, in place of the working directory: its `code` package must
        # not shadow the standard library's `code` module.
        code = (
            f"import runpy, sys; sys.path.pop(0); sys.path.append({os.path.dirname(here)!r}); "
            f"runpy.run_path({here!r}, run_name={_WORKER_RUN_NAME!r})"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=os.path.dirname(here),
            start_new_session=True,  # a Ctrl-C in the terminal goes to the trainer, not to every worker
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.fd = self.proc.stdout.fileno()
        self._buffer = b""
        line = self.read_line(time.monotonic() + _STARTUP_TIMEOUT_S)
        if line != "ready":
            self.kill()
            raise RuntimeError(
                f"math-verify worker failed to start (said {line!r}); is math-verify installed?"
            )

    def send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()

    def poll_line(self) -> str | None:
        """A complete reply if one is buffered or readable now; raises EOFError if the worker died."""
        if b"\n" not in self._buffer:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise EOFError("math-verify worker exited")
            self._buffer += chunk
        if b"\n" not in self._buffer:
            return None
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def read_line(self, deadline: float) -> str | None:
        while True:
            left = deadline - time.monotonic()
            if b"\n" not in self._buffer and (left <= 0 or not select.select([self.fd], [], [], left)[0]):
                return None
            try:
                line = self.poll_line()
            except EOFError:
                return None
            if line is not None:
                return line

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


class WorkerPool:
    """`size` workers serving `run` one batch at a time (a lock serialises concurrent callers).

    A request is ``(gold, answer)`` (a `check`) or ``{"gold", "completion", "max_chars"}`` (a `judge`).
    """

    def __init__(self, size: int = 1) -> None:
        if size < 1:
            raise ValueError(f"worker pool size must be >= 1, got {size}")
        self.size = size
        self._workers: list[_Worker | None] = [None] * size
        self._lock = threading.Lock()

    def run(self, requests: Sequence[tuple[str, str] | dict[str, Any]], timeout_s: float) -> list[Verdict]:
        pairs = [r if isinstance(r, dict) else {"gold": r[0], "answer": r[1]} for r in requests]
        with self._lock:
            return self._run(pairs, timeout_s)

    def _run(self, pairs: Sequence[dict[str, Any]], timeout_s: float) -> list[Verdict]:
        results: list[Verdict | None] = [None] * len(pairs)
        queue = deque(range(len(pairs)))
        busy: dict[int, tuple[int, float]] = {}  # slot -> (pair index, deadline)
        while queue or busy:
            for slot in range(self.size):
                if slot not in busy and queue:
                    index = queue.popleft()
                    worker = self._worker(slot)
                    worker.send(pairs[index])
                    busy[slot] = (index, time.monotonic() + timeout_s)
            wait = max(0.0, min(deadline for _, deadline in busy.values()) - time.monotonic())
            fds = {self._workers[slot].fd: slot for slot in busy}  # type: ignore[union-attr]
            for fd in select.select(list(fds), [], [], wait)[0]:
                slot = fds[fd]
                index = busy[slot][0]
                try:
                    line = self._workers[slot].poll_line()  # type: ignore[union-attr]
                except EOFError:
                    self._retire(slot)
                    results[index], line = Verdict(False, "error", "math-verify worker died"), None
                    del busy[slot]
                if line is not None:
                    reply = json.loads(line)
                    results[index] = Verdict(
                        bool(reply["equal"]),
                        reply["status"],
                        reply.get("detail", ""),
                        reply.get("answer"),
                        reply.get("how", "none"),
                    )
                    del busy[slot]
            now = time.monotonic()
            for slot, (index, deadline) in list(busy.items()):
                if now >= deadline:
                    self._retire(slot)
                    results[index] = Verdict(
                        False, "timeout", f"math-verify took longer than {timeout_s:g} s"
                    )
                    del busy[slot]
        return [r if r is not None else Verdict(False, "error", "no reply") for r in results]

    def _worker(self, slot: int) -> _Worker:
        if self._workers[slot] is None:
            self._workers[slot] = _Worker()
        return self._workers[slot]  # type: ignore[return-value]

    def _retire(self, slot: int) -> None:
        worker, self._workers[slot] = self._workers[slot], None
        if worker is not None:
            worker.kill()

    def close(self) -> None:
        with self._lock:
            for slot in range(self.size):
                self._retire(slot)


_POOLS: dict[int, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(size: int = 1) -> WorkerPool:
    """One pool per size per process, started lazily and killed at exit."""
    with _POOLS_LOCK:
        if size not in _POOLS:
            _POOLS[size] = WorkerPool(size)
        return _POOLS[size]


@atexit.register
def _close_pools() -> None:
    for pool in _POOLS.values():
        pool.close()


class MathVerifier:
    """Time-limited ``check(gold, answer)``; see the module docstring for the two modes."""

    def __init__(self, timeout_s: float = 2.0, mode: str = "process", workers: int = 1) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown math-verify timeout mode {mode!r}; valid: {', '.join(MODES)}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.timeout_s, self.mode, self.workers = timeout_s, mode, workers

    def verify(self, gold: str, answer: str) -> Verdict:
        return self.verify_many([(gold, answer)])[0]

    def verify_many(self, pairs: Sequence[tuple[str, str]]) -> list[Verdict]:
        """`check` each ``(gold, answer)``."""
        return self._run([{"gold": gold, "answer": answer} for gold, answer in pairs])

    def judge_many(self, pairs: Sequence[tuple[str, str]], max_chars: int = 256) -> list[Verdict]:
        """`judge` each ``(gold, completion)``: extraction and check both run inside the time limit."""
        return self._run([{"gold": g, "completion": c, "max_chars": max_chars} for g, c in pairs])

    def _run(self, requests: list[dict[str, Any]]) -> list[Verdict]:
        if not requests:
            return []
        if self.mode == "signal" and threading.current_thread() is threading.main_thread():
            return [self._in_process(request) for request in requests]
        return shared_pool(self.workers).run(requests, self.timeout_s)

    def _in_process(self, request: dict[str, Any]) -> Verdict:
        from math_verify.errors import TimeoutException
        from math_verify.utils import timeout

        start = time.monotonic()
        try:
            reply = timeout(max(1, math.ceil(self.timeout_s)))(_serve)(request)
        except TimeoutException:
            return Verdict(False, "timeout", "math-verify timed out")
        if not reply["equal"] and reply["status"] == "ok" and time.monotonic() - start >= self.timeout_s:
            reply["status"] = "timeout"
        return Verdict(
            reply["equal"],
            reply["status"],
            reply.get("detail", ""),
            reply.get("answer"),
            reply.get("how", "none"),
        )


def _worker_main() -> None:
    """Serve JSON-line requests on stdin until EOF (run in the worker process)."""
    import logging

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    logging.disable(logging.WARNING)  # math-verify warns once that its own timeout is off: we own it
    import math_verify  # noqa: F401  (import before "ready", so startup time is not charged to a request)

    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        out.write(json.dumps(_serve(json.loads(line))) + "\n")
        out.flush()


def _serve(request: dict[str, Any]) -> dict[str, Any]:
    """One request (see `WorkerPool`) to one reply; errors become an ``error`` reply."""
    try:
        if "completion" in request:
            return judge(request["gold"], request["completion"], int(request["max_chars"]))
        return {"equal": check(request["gold"], request["answer"]), "status": "ok"}
    except Exception as err:  # math-verify and sympy raise many types on malformed input
        return {"equal": False, "status": "error", "detail": f"{type(err).__name__}: {err}"[:500]}


if __name__ == _WORKER_RUN_NAME:
    _worker_main()
