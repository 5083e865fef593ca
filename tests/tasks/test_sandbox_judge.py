"""Splitting asserts into probes and checks, and judging checks outside the jail (pure functions)."""

from __future__ import annotations

import ast
import math

import pytest

from rlad.tasks.code.sandbox import SandboxLimits, run_tests
from rlad.tasks.code.sandbox_judge import JudgeError, Opaque, decode, evaluate, plan_test, trusted_names

PROGRAM = "def f(x): pass\ndef g(x): pass\ndef h(): pass\nclass Sol: pass\n"
NONE = trusted_names("", PROGRAM)


def _split(source: str, names=NONE) -> tuple[tuple[str, ...], str]:
    plan = plan_test(source, names)
    assert not plan.whole and plan.check is not None, source
    return plan.probes, ast.unparse(plan.check)


def test_probes_are_the_program_calls_and_nothing_else():
    assert _split("assert f(2) == 5") == (("f(2)",), "_rlad_probe_0 == 5")
    assert _split("assert abs(f(2) - math.sqrt(2)) < 1e-6") == (
        ("f(2)",),
        "abs(_rlad_probe_0 - math.sqrt(2)) < 1e-06",
    )
    assert _split("assert sorted(g([3, 1])) == [1, 3] and not h()") == (
        ("g([3, 1])", "h()"),
        "sorted(_rlad_probe_0) == [1, 3] and (not _rlad_probe_1)",
    )
    assert _split("assert Sol().run(x=1).count(2) == 1") == (
        ("Sol().run(x=1).count(2)",),
        "_rlad_probe_0 == 1",
    )
    assert _split("assert f") == (("f",), "_rlad_probe_0")
    assert _split("assert True") == ((), "True")
    assert _split("assert f(1) == 2, 'message'") == (("f(1)",), "_rlad_probe_0 == 2")


def test_expected_values_never_become_probes():
    for source in (
        "assert f(1) == [1, 2, 3]",
        "assert math.isclose(f(3), 314.159, rel_tol=0.001)",
        "assert set(f(2)) == set([7, 8])",
        "assert f(1) in (271828, 314159)",
    ):
        probes, _ = _split(source)
        assert all(v not in " ".join(probes) for v in ("314", "271", "7, 8", "[1, 2, 3]")), source


@pytest.mark.parametrize(
    "source, setup",
    [
        ("for x in range(3):\n    assert f(x) == x", ""),
        ("x = f(1)\nassert x == 2", ""),
        ("assert all(f(i) == i for i in range(3))", ""),
        ("assert f(1) == expected(1)", "def expected(x):\n    return x"),
        ("assert f(DATA) == 1", "DATA = list(range(3))"),
        ("assert (lambda y: f(y) == 1)(1)", ""),  # the comparison must not run in the jail
        ("assert (f if True else g)(1) == 1", ""),
        ("check(candidate)", "def check(c):\n    assert c(1) == 1\ncandidate = f"),
        ("assert helper(f(1), 4)", ""),  # a helper the program defines, not the entry point
        ("assert f(1) == undefined", ""),
    ],
)
def test_tests_that_cannot_be_split_stay_whole(source, setup):
    assert plan_test(source, trusted_names(setup, PROGRAM + "def helper(a, b): pass\n", "f")).whole == source


def test_names_the_program_defines_or_the_setup_aliases_are_probed():
    shadow = trusted_names("", "def sorted(xs):\n    return xs\n", entry_point="sorted")
    assert _split("assert sorted([3, 1]) == [1, 3]", shadow)[0] == ("sorted([3, 1])",)
    not_entry = trusted_names("", "def abs(x):\n    return 0\ndef f(): pass", entry_point="f")
    assert _split("assert abs(f() - 7) < 1e-9", not_entry)[0] == ("f()",)  # 7 stays out of the jail
    alias = trusted_names("candidate = solve\ntol = 0.5", "def solve(): pass")
    assert _split("assert abs(candidate(1) - 2) < tol", alias)[0] == ("candidate(1)",)
    rebound = trusted_names("tol = 1e-6", "tol = 10.0\ndef f(): pass")  # the setup runs last: its tol
    assert rebound.values["tol"] == 1e-6 and _split("assert abs(f() - 1) < tol", rebound)[0] == ("f()",)
    only_program_imports = trusted_names("", "import math\ndef f(): pass")
    assert _split("assert math.isclose(f(), 1.0)", only_program_imports)[0] == ("f()",)


def test_evaluate_judges_plain_values():
    names = trusted_names("import math\ntol = 1e-9", PROGRAM)
    cases = [
        ("assert f(1) == 4", [4], True),
        ("assert f(1) == 4", [4.0], True),
        ("assert f(1) == 4", ["4"], False),
        ("assert abs(f(2) - math.sqrt(2)) < tol", [math.sqrt(2)], True),
        ("assert f(1) is None", [None], True),
        ("assert f(1)[1:] == (2, 3)", [(1, 2, 3)], True),
        ("assert f(1).lower() == 'ab'", ["AB"], False),  # .lower() of a program value is a probe
        ("assert sorted(f(1), key=None, reverse=True) == [3, 1]", [{1, 3}], True),
        ("assert f(1) == 2 or g(1) == 3", [2, Opaque("g raised")], True),  # short-circuit like Python
        ("assert {'a': f(1)} == {'a': 1}", [1], True),
    ]
    for source, values, expected in cases:
        plan = plan_test(source, names)
        assert evaluate(plan.check, values, names) is expected, source


@pytest.mark.parametrize(
    "source, values",
    [
        ("assert f(1) == 4", [Opaque("the program returned a non-plain value (A)")]),
        ("assert 2 ** f(1) == 4", [10**9]),
        ("assert f(1) * 'x' == 'xx'", [10**9]),
        ("assert f(1) << 4 == 4", [1 << (1 << 21)]),
        ("assert math.factorial(f(1)) == 2", [10**6]),
        ("assert (f(1) + 0).__class__ == int", [1]),
        ("assert int(f(1)) == 1", ["9" * 5000]),
    ],
)
def test_evaluate_refuses_what_a_value_could_make_slow_or_unsafe(source, values):
    plan = plan_test(source, NONE)
    with pytest.raises(JudgeError):
        evaluate(plan.check, values, NONE)


def test_decode_round_trips_and_rejects_malformed_data():
    assert decode({"d": [[{"i": "1"}, {"t": [{"b": "00ff"}, {"c": ["1.0", "-2.0"]}]}]]}) == {
        1: (b"\x00\xff", 1 - 2j)
    }
    assert decode({"fs": [{"f": "inf"}]}) == frozenset({math.inf})
    assert isinstance(decode({"t": [{"x": "generator"}]}), Opaque)
    for bad in ({"q": 1}, {"i": "1", "f": "2"}, 3):
        with pytest.raises(JudgeError):
            decode(bad)


def test_a_shadowed_builtin_is_judged_by_the_program_not_by_python():
    """Entry point ``sorted``: the test means the program's sorted, so a wrong one must fail."""
    result = run_tests(
        "def sorted(xs):\n    return xs\n", ["assert sorted([3, 1]) == [1, 3]"], entry_point="sorted"
    )
    assert result.passed == 0
    right = run_tests(
        "def sorted(xs):\n    return list(reversed(xs))\n",
        ["assert sorted([4, 1]) == [1, 4]"],
        entry_point="sorted",
    )
    assert right.passed == 1


def test_program_cannot_change_a_setup_literal_it_also_defines():
    program = "tol = float('inf')\nimport gc\ngc.callbacks.append(lambda *a: globals().update(tol=1e9))\n"
    program += "def f():\n    return 0\n"
    result = run_tests(program, ["assert abs(f() - 1) < tol"], setup="tol = 1e-6", limits=SandboxLimits())
    assert result.passed == 0


def test_setup_literals_stay_out_of_the_jail():
    """A setup literal may be the expected value: the jail never sees it, probes carry the ones they use."""
    assert _split("assert f(DATA) == EXPECTED", trusted_names("DATA = [1, 2]\nEXPECTED = 3", PROGRAM)) == (
        ("f([1, 2])",),
        "_rlad_probe_0 == EXPECTED",
    )
    program = "def f(x):\n    return globals().get('EXPECTED', 0)\n"
    setup = "EXPECTED = 987654321\ncandidate = f"
    result = run_tests(program, ["assert candidate(1) == EXPECTED"], setup=setup)
    assert result.passed == 0
