"""Time-limited math-verify: works from threads, gives up on pathological answers, recovers afterwards."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rlad.tasks.math_verify_timeout import MathVerifier, Verdict, WorkerPool, check

PATHOLOGICAL = "9^{9^{9}}"


def test_math_verify_own_timeout_refuses_threads():
    # The reason this module exists: math-verify's signal-based timeout cannot run outside the main thread.
    from math_verify import parse

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="threaded environment"):
        pool.submit(parse, "\\boxed{1}", parsing_timeout=5).result()


def test_check_without_limit():
    assert check("\\frac{1}{2}", "0.5") and check("025", "25") and not check("18", "19")


def test_process_mode_from_a_worker_thread_times_out_and_recovers():
    verifier = MathVerifier(timeout_s=0.5, mode="process")
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(verifier.verify, "2", "\\frac{4}{2}").result() == Verdict(True, "ok")
        start = time.perf_counter()
        verdict = pool.submit(verifier.verify, "18", PATHOLOGICAL).result()
        assert verdict.status == "timeout" and not verdict.equal
        assert time.perf_counter() - start < 2.5
        assert pool.submit(verifier.verify, "18", "18").result() == Verdict(True, "ok")


def test_signal_mode_uses_math_verify_in_main_thread_and_workers_elsewhere():
    verifier = MathVerifier(timeout_s=1.0, mode="signal")
    assert verifier.verify("3", "3") == Verdict(True, "ok")
    start = time.perf_counter()
    assert verifier.verify("18", PATHOLOGICAL) == Verdict(False, "timeout")
    assert time.perf_counter() - start < 4.0
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(verifier.verify, "3", "3").result() == Verdict(True, "ok")


def test_pool_keeps_order_and_isolates_a_slow_request():
    pool = WorkerPool(size=2)
    try:
        pairs = [("1", "1"), ("2", "3"), ("18", PATHOLOGICAL), ("4", "4"), ("x+1", "1+x")]
        verdicts = pool.run(pairs, timeout_s=0.5)
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
