"""Time-limited math-verify: works from threads, gives up on pathological answers, recovers afterwards.

Speed-independent: a normal check takes about 50 ms cold (ms warm), far inside LIMIT_S even on a slow,
busy machine, while checking PATHOLOGICAL had not finished after 60 s here. So a
"timeout" verdict can only come from the limit, and a call that returns within a few multiples of LIMIT_S
returned long before the work itself could have finished.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rlad.tasks.math_verify_timeout import MathVerifier, Verdict, WorkerPool, check

PATHOLOGICAL = "9^{9^{9}}"
LIMIT_S = 2.0
CUT_OFF_S = 5 * LIMIT_S  # a timed-out call returns within this; the pathological work takes over 60 s


def test_math_verify_own_timeout_refuses_threads():
    # The reason this module exists: math-verify's signal-based timeout cannot run outside the main thread.
    from math_verify import parse

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="threaded environment"):
        pool.submit(parse, "\\boxed{1}", parsing_timeout=5).result()


def test_check_without_limit():
    assert check("\\frac{1}{2}", "0.5") and check("025", "25") and not check("18", "19")


def test_process_mode_from_a_worker_thread_times_out_and_recovers():
    verifier = MathVerifier(timeout_s=LIMIT_S, mode="process")
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(verifier.verify, "2", "\\frac{4}{2}").result() == Verdict(True, "ok")
        start = time.monotonic()
        verdict = pool.submit(verifier.verify, "18", PATHOLOGICAL).result()
        assert verdict == Verdict(False, "timeout", "math-verify took longer than 2 s")
        assert time.monotonic() - start < CUT_OFF_S
        assert pool.submit(verifier.verify, "18", "18").result() == Verdict(True, "ok")


def test_signal_mode_uses_math_verify_in_main_thread_and_workers_elsewhere():
    verifier = MathVerifier(timeout_s=LIMIT_S, mode="signal")
    assert verifier.verify("3", "3") == Verdict(True, "ok")
    start = time.monotonic()
    assert verifier.verify("18", PATHOLOGICAL) == Verdict(False, "timeout", "math-verify timed out")
    assert time.monotonic() - start < CUT_OFF_S  # one alarm per math-verify step: a few multiples at most
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(verifier.verify, "3", "3").result() == Verdict(True, "ok")


def test_pool_keeps_order_and_isolates_a_slow_request():
    pool = WorkerPool(size=2)
    try:
        pairs = [("1", "1"), ("2", "3"), ("18", PATHOLOGICAL), ("4", "4"), ("x+1", "1+x")]
        assert pool.run([("5", "5"), ("6", "6")], timeout_s=LIMIT_S) == [Verdict(True, "ok")] * 2
        start = time.monotonic()  # both workers have started: only the requests are timed
        verdicts = pool.run(pairs, timeout_s=LIMIT_S)
        assert time.monotonic() - start < CUT_OFF_S
        assert [v.equal for v in verdicts] == [True, False, False, True, True]
        assert [v.status for v in verdicts] == ["ok", "ok", "timeout", "ok", "ok"]
    finally:
        pool.close()


def test_bad_options():
    with pytest.raises(ValueError, match="valid: process, signal"):
        MathVerifier(mode="thread")
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        MathVerifier(timeout_s=0)
    with pytest.raises(ValueError, match="pool size"):
        WorkerPool(size=0)
