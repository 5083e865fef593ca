"""The sandbox's normal behaviour: counting passed tests, setup code, hardened comparisons, parallel runs."""

from __future__ import annotations

import os

import pytest

from rlad.tasks.sandbox import SandboxJob, SandboxLimits, harden_tests, run_many, run_tests

TRIPLE = "def f(x):\n    return 3 * x + 1\n"


def test_counts_passed_tests_and_reports_the_first_failure():
    result = run_tests(
        TRIPLE, ["assert f(1) == 4", "assert f(2) == 7", "assert f(0) == 2", "assert f(-1) == -2"]
    )
    assert (result.passed, result.total, result.status, result.passed_tests) == (3, 4, "ok", (0, 1, 3))
    assert result.fraction == 0.75
    assert result.reason == "3/4 tests passed; test 2: AssertionError"


def test_setup_runs_after_the_program_and_before_the_tests():
    result = run_tests("def g(s):\n    return s.upper()\n", ["assert g(WORD) == 'AB'"], setup="WORD = 'ab'")
    assert (result.passed, result.status) == (1, "ok")


def test_program_output_is_captured():
    result = run_tests("import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n", ["assert True"])
    assert (result.stdout, result.stderr, result.passed) == ("hello\n", "oops\n", 1)


def test_load_errors_fail_every_test():
    result = run_tests("def f(x) return x\n", ["assert f(1) == 1", "assert f(2) == 2"])
    assert (result.passed, result.status) == (0, "load_error")
    assert result.reason.startswith("0/2 tests passed; program failed to load: SyntaxError")


def test_harden_tests_rewrites_comparisons_and_truth_tests():
    assert harden_tests("assert f(2) == 5") == "assert __rlad_truth__(__rlad_cmp__(('==',), f(2), 5))"
    assert harden_tests("assert not g(1)") == "assert __rlad_truth__(not __rlad_truth__(g(1)))"
    assert harden_tests("assert a < b <= c") == "assert __rlad_truth__(__rlad_cmp__(('<', '<='), a, b, c))"
    with pytest.raises(SyntaxError):
        harden_tests("assert (")


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
    ]
    result = run_tests(program, tests)
    assert (result.passed, result.failures) == (7, ())


@pytest.mark.parametrize(
    "program",
    [
        "class A:\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\ndef f(x): return A()\n",
        "class A(int):\n    def __eq__(self, o): return True\ndef f(x): return A(0)\n",
        "class A:\n    def __bool__(self): return True\n    def __lt__(self, o): return True\ndef f(x): return A()\n",
        "class A:\n    def __eq__(self, o): return True\ndef f(x): return [A()]\n",
    ],
)
def test_rigged_comparisons_do_not_pass(program):
    tests = [
        "assert f(1) == 4",
        "assert not f(1) != 4",
        "assert f(1)",
        "assert abs(f(1) - 4) < 1",
        "assert f(1) == [4]",
    ]
    result = run_tests(program, tests)
    assert result.passed == 0 and result.total == 5


def test_redefining_the_helpers_does_not_help():
    program = (
        "def __rlad_truth__(x):\n    return True\n"
        "def __rlad_cmp__(*a):\n    return True\n"
        "def f(x):\n    globals()['__rlad_cmp__'].__code__ = (lambda *a: True).__code__\n    return 0\n"
    )
    result = run_tests(program, ["assert f(1) == 4", "assert f(2) == 5"])
    assert result.passed == 0
    assert "setting __code__ is not allowed" in result.reason


def test_protections_are_recorded():
    result = run_tests(TRIPLE, ["assert f(1) == 4"])
    expected = {
        "fresh_workdir",
        "clean_env",
        "session_kill",
        "audit_hook",
        "rlimit_cpu",
        "rlimit_as",
        "rlimit_fsize",
    }
    assert expected <= set(result.protections)
    if os.geteuid() == 0:  # namespaces need root; as a user RLIMIT_NPROC caps processes instead
        assert {"net_namespace", "pid_namespace"} <= set(result.protections)
    else:
        assert "rlimit_nproc" in result.protections


def test_run_many_keeps_order():
    jobs = [SandboxJob(f"def f():\n    return {i}\n", (f"assert f() == {i % 3}",)) for i in range(8)]
    results = run_many(jobs, max_workers=4)
    assert [r.passed for r in results] == [1 if i % 3 == i else 0 for i in range(8)]


def test_limits_are_validated():
    with pytest.raises(ValueError, match="too small"):
        SandboxLimits(cpu_seconds=0)
    with pytest.raises(ValueError, match="tag"):
        run_tests(TRIPLE, [], tag="../x")
