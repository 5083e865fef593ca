"""The sandbox's normal behaviour: counting passed tests, setup code, verdicts outside, parallel runs."""

from __future__ import annotations

import os
import time

import pytest

from rlad.tasks.code import sandbox
from rlad.tasks.code.sandbox import SandboxJob, SandboxLimits, SandboxUnavailable, run_many, run_tests
from rlad.tasks.code.sandbox_jail import JailStatus, jail_status

TRIPLE = "def f(x):\n    return 3 * x + 1\n"


def test_the_jail_works_here():
    """CI and the development machines must have a working jail, or every other test here means less."""
    status = jail_status()
    assert status.works, status.reason
    assert status.version >= (0, 10)  # --size for the tmpfs work directory


def test_counts_passed_tests_and_reports_the_first_failure():
    result = run_tests(
        TRIPLE, ["assert f(1) == 4", "assert f(2) == 7", "assert f(0) == 2", "assert f(-1) == -2"]
    )
    assert (result.passed, result.total, result.status, result.passed_tests) == (3, 4, "ok", (0, 1, 3))
    assert result.fraction == 0.75
    assert result.reason == "3/4 tests passed; test 2: AssertionError"
    assert result.unsplit == 0 and "bubblewrap" in result.protections


def test_setup_runs_after_the_program_and_its_literals_are_known_outside():
    result = run_tests("def g(s):\n    return s.upper()\n", ["assert g(WORD) == 'AB'"], setup="WORD = 'ab'")
    assert (result.passed, result.status) == (1, "ok")
    tolerance = run_tests(
        "import math\ndef root(x):\n    return x ** 0.5\n",
        ["assert abs(candidate(2) - math.sqrt(2)) < tol", "assert math.isclose(root(9), 3.0)"],
        setup="import math\ncandidate = root\ntol = 1e-9",
        entry_point="root",
    )
    assert (tolerance.passed, tolerance.unsplit) == (2, 0)


def test_program_output_is_captured():
    result = run_tests("import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n", ["assert True"])
    assert (result.stdout, result.stderr, result.passed) == ("hello\n", "oops\n", 1)


def test_load_errors_fail_every_test():
    result = run_tests("def f(x) return x\n", ["assert f(1) == 1", "assert f(2) == 2"])
    assert (result.passed, result.status) == (0, "load_error")
    assert result.reason.startswith("0/2 tests passed; program failed to load: SyntaxError")


def test_plain_values_compare_normally():
    program = "def f():\n    return {'a': [1, 2.5, (3, 'x')], 'b': {None, True}}\n"
    tests = [
        "assert f() == {'a': [1, 2.5, (3, 'x')], 'b': {None, True}}",
        "assert f()['a'][1] > 2 and 'x' in f()['a'][2]",
        "assert f()['c'] if 'c' in f() else True",
        "assert f().get('z') is None",
        "assert not f()['a'][0] != 1",
        "assert abs(f()['a'][1] - 2.5) < 1e-9",
        "assert f() != {}",
        "assert sorted(f()['a'][2], key=str) == [3, 'x']",
    ]
    result = run_tests(program, tests)
    assert (result.passed, result.failures, result.unsplit) == (8, (), 0)


def test_probe_errors_and_short_circuits_behave_like_python():
    program = "def f(x):\n    return 10 // x\n"
    tests = ["assert f(0) == 1", "assert f(5) == 2 or f(0) == 1", "assert f(5) == 3 or f(0) == 1"]
    result = run_tests(program, tests)
    assert result.passed_tests == (1,)
    assert result.failures[0] == "test 0: f(0) raised ZeroDivisionError: integer division or modulo by zero"


@pytest.mark.parametrize(
    "program",
    [
        "class A:\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\ndef f(x): return A()\n",
        "class A(int):\n    def __eq__(self, o): return True\ndef f(x): return A(0)\n",
        "class A:\n    def __bool__(self): return True\n    def __lt__(self, o): return True\ndef f(x): return A()\n",
        "class A:\n    def __eq__(self, o): return True\ndef f(x): return [A()]\n",
        "def f(x):\n    return (i for i in [4])\n",
    ],
)
def test_rigged_values_do_not_pass(program):
    tests = [
        "assert f(1) == 4",
        "assert not f(1) != 4",
        "assert f(1)",
        "assert abs(f(1) - 4) < 1",
        "assert f(1) == [4]",
    ]
    result = run_tests(program, tests)
    assert result.passed == 0 and result.total == 5
    assert "non-plain value" in result.failures[0]


def test_unsplit_tests_run_whole_or_fail_by_policy():
    program = "def f(x):\n    return x + 1\n"
    tests = ["for x in range(3):\n    assert f(x) == x + 1", "assert f(1) == 2"]
    result = run_tests(program, tests)
    assert (result.passed, result.unsplit) == (2, 1)
    strict = run_tests(program, tests, limits=SandboxLimits(unsplit_tests="fail"))
    assert strict.passed_tests == (1,)
    assert "cannot be judged outside the jail" in strict.failures[0]


def test_per_test_timeout_keeps_partial_credit():
    program = "import time\ndef f(x):\n    if x == 2:\n        time.sleep(60)\n    return x\n"
    limits = SandboxLimits(cpu_seconds=5, wall_seconds=30.0, test_seconds=1.0)
    start = time.monotonic()
    result = run_tests(program, ["assert f(1) == 1", "assert f(2) == 2", "assert f(3) == 3"], limits=limits)
    assert (result.passed_tests, result.status) == ((0,), "timeout")
    assert "1 s per test" in result.reason
    assert time.monotonic() - start < 25.0


def test_no_jail_means_no_run_unless_allowed(monkeypatch):
    monkeypatch.setattr(sandbox, "jail_status", lambda: JailStatus(False, "", (), "no bwrap binary"))
    monkeypatch.delenv("RLAD_SANDBOX_ALLOW_UNJAILED", raising=False)
    with pytest.raises(SandboxUnavailable, match="refusing to run untrusted code: no bwrap binary; pass"):
        run_tests(TRIPLE, ["assert f(1) == 4"])
    weak = run_tests(TRIPLE, ["assert f(1) == 4"], limits=SandboxLimits(allow_unjailed=True))
    assert (weak.passed, weak.status) == (1, "ok") and "unjailed" in weak.protections
    monkeypatch.setenv("RLAD_SANDBOX_ALLOW_UNJAILED", "1")
    assert run_tests(TRIPLE, ["assert f(1) == 5"]).passed == 0


def test_protections_are_recorded():
    result = run_tests(TRIPLE, ["assert f(1) == 4"])
    assert {"bubblewrap", "rlimits"} <= set(result.protections)
    if os.geteuid() == 0:  # Linux does not count root's processes: a cgroup caps them instead
        assert any(p.startswith("cgroup_") for p in result.protections)


def test_run_many_keeps_order():
    jobs = [SandboxJob(f"def f():\n    return {i}\n", (f"assert f() == {i % 3}",)) for i in range(8)]
    results = run_many(jobs, max_workers=4)
    assert [r.passed for r in results] == [1 if i % 3 == i else 0 for i in range(8)]


def test_limits_are_validated():
    with pytest.raises(ValueError, match="too small"):
        SandboxLimits(cpu_seconds=0)
    with pytest.raises(ValueError, match="unsplit_tests must be one of"):
        SandboxLimits(unsplit_tests="skip")
    with pytest.raises(ValueError, match="tag"):
        run_tests(TRIPLE, [], tag="../x")
