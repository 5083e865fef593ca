"""The math verifier against answers built to fool it, on the shipped AIME24, AMC23 and GSM8K gold answers.

Every gold answer must still verify when written differently (scientific notation in five spellings,
``####``, "The answer is"), and every perturbation must score 0: off by one in any spelling, a number
that only matches when ``e`` is read as Euler's number, a factor 10 on a tiny or huge number, a partial
parse whose tail is the gold, "The answer is not X", hedges. The bulk runs `judge` in this process (the
worker's pure function); pathological inputs go through the task's worker pool and its time limit.
"""

from __future__ import annotations

import math

import pytest

from rlad.tasks import get_task
from rlad.tasks.math_compare import check, judge, numbers_equal
from rlad.tasks.math_extract import extract_answer, last_boxed, scientific_to_latex

SCIENTIFIC = ("{m}e{k}", "{m}E{k}", "{m} \\times 10^{{{k}}}", "{m}\\cdot10^{{{k}}}", "{m} x 10^{k}")
PARTIAL = (  # whole answer unparseable, but a fragment is the gold: math-verify's parse accepted these
    "\\frac{{1}}{{3}}E_1+\\frac{{{v}}}{{1}}",
    "\\frac{{1}}{{3}}E_1 = {v}",
    "\\foo{{1}} = {v}",
    "\\frac{{1}}{{3}}E_1, {v}",
)


def _mantissa(v: int, shift: int = 0) -> tuple[str, int]:
    """``v = m * 10**k`` with one digit before the point: (m as text, k + shift)."""
    digits = str(abs(v))
    tail = digits[1:].rstrip("0")
    return ("-" if v < 0 else "") + digits[0] + (f".{tail}" if tail else ""), len(digits) - 1 + shift


def _scientific(v: int, form: str, shift: int = 0) -> str:
    m, k = _mantissa(v, shift)
    return form.format(m=m, k=k)


def right_answers(v: int) -> list[tuple[str, str]]:
    """(gold text, completion) pairs that must score 1."""
    gold = str(v)
    pairs = [(gold, f"so \\boxed{{{v}}}"), (gold, f"steps\n#### {v}"), (gold, f"The answer is ${v}$.")]
    pairs += [(gold, f"\\boxed{{{_scientific(v, form)}}}") for form in SCIENTIFIC]
    pairs += [(_scientific(v, form), f"\\boxed{{{v}}}") for form in SCIENTIFIC]  # gold in scientific form
    pairs += [
        (_scientific(v, "{m}e{k}", -20), f"\\boxed{{{_scientific(v, form, -20)}}}") for form in SCIENTIFIC
    ]
    pairs += [
        (_scientific(v, "{m}e{k}", 30), f"\\boxed{{{_scientific(v, form, 30)}}}") for form in SCIENTIFIC
    ]
    return pairs


def wrong_answers(v: int) -> list[tuple[str, str]]:
    """(gold text, completion) pairs that must score 0."""
    gold = str(v)
    pairs = [
        (gold, f"\\boxed{{{v + 1}}}"),
        (gold, f"The answer is not {v}."),
        (gold, f"The answer is not ${v}$."),
    ]
    pairs += [(gold, f"The answer is {v} or {v + 1}."), (gold, f"\\boxed{{{v} \\text{{ or }} {v + 1}}}")]
    pairs += [(gold, f"\\boxed{{{v}, {v + 1}}}"), (gold, f"\\boxed{{{v} \\pm 1}}")]
    pairs += [(gold, f"\\boxed{{{_scientific(v + 1, form)}}}") for form in SCIENTIFIC]
    pairs += [(gold, f"\\boxed{{{shape.format(v=v)}}}") for shape in PARTIAL]
    m, k = _mantissa(v)
    if k > 0:  # m e k read as m * Euler * k: the number math-verify used to accept
        euler = float(m) * math.e * k
        pairs += [(f"{m}e{k}", f"\\boxed{{{euler:.2f}}}"), (f"{m}e{k}", f"\\boxed{{{euler!r}}}")]
    if v != 0:  # tiny and huge numbers, a factor 10 apart (math-verify rounds both tiny ones to 0)
        for shift in (-20, 30):
            gold_far = _scientific(v, "{m}e{k}", shift)
            pairs += [(gold_far, f"\\boxed{{{_scientific(v, form, shift + 1)}}}") for form in SCIENTIFIC]
    return pairs


def _gold_values(task, shared_data, name: str) -> list[int]:
    return [int(a) for a in task.load(str(shared_data / "math" / f"{name}.jsonl"), split="test")["answer"]]


def _verdicts(pairs: list[tuple[str, str]]) -> list[bool]:
    return [judge(gold, completion, 256)["equal"] for gold, completion in pairs]


@pytest.mark.parametrize("name", ["aime24", "amc23"])
def test_every_spelling_verifies_and_every_perturbation_fails_on_competition_sets(shared_data, name):
    values = _gold_values(get_task("math"), shared_data, name)
    assert len(values) == {"aime24": 30, "amc23": 40}[name]
    right = [p for v in values for p in right_answers(v)]
    wrong = [p for v in values for p in wrong_answers(v)]
    assert [p for p, ok in zip(right, _verdicts(right)) if not ok] == []  # gold accuracy 1.0
    assert [p for p, ok in zip(wrong, _verdicts(wrong)) if ok] == []  # false-positive rate 0


def test_gsm8k_every_row_in_one_right_and_one_wrong_spelling(shared_data):
    """All 1319 rows; row i gets the i-th right and the i-th wrong variant (rotating), to stay fast."""
    values = _gold_values(get_task("gsm8k"), shared_data, "gsm8k_test")
    assert len(values) == 1319
    right, wrong = [], []
    for i, v in enumerate(values):
        options_right, options_wrong = right_answers(v), wrong_answers(v)
        right.append(options_right[i % len(options_right)])
        wrong.append(options_wrong[i % len(options_wrong)])
    assert [p for p, ok in zip(right, _verdicts(right)) if not ok] == []
    assert [p for p, ok in zip(wrong, _verdicts(wrong)) if ok] == []


@pytest.mark.parametrize(
    ("gold", "answer", "equal"),
    [
        ("4.5e33", "4.5E33", True),
        ("4.5e33", "4.5 \\times 10^{33}", True),
        ("4.5e33", "4.5\\cdot10^{33}", True),
        ("4.5e33", "4.5 x 10^33", True),
        ("4.5 \\times 10^{33}", "4500000000000000000000000000000000", True),
        ("4.5e33", "403.66", False),
        ("4.5e33", "403.6648515985", False),
        ("2.88e-19", "2.88e-18", False),
        ("2.88e-19", "2.880001e-19", True),  # relative tolerance 1e-6, inclusive
        ("2.88e-19", "2.8801e-19", False),
        ("\\frac{1}{3}", "0.333333", True),
        ("\\frac{1}{3}", "0.33333", False),
        ("\\frac{1}{10^{19}}", "\\frac{1}{10^{18}}", False),
        ("1000000", "1000001.0", False),  # integers compare exactly
        ("18", "18.0", True),
        ("18", "x = 18", True),
        ("\\frac{2}{3}", "\\frac{1}{3}E_1+\\frac{2}{3}E_2", False),
        ("0", "not 0", False),  # n*o*t*0 is 0 to sympy
        ("25", "25\\%", True),
        ("\\pi", "3.14159265358979", True),
        ("\\pi", "3.1416", False),
        ("x+1", "1+x", True),
        ("\\{1,2\\}", "\\{2,1\\}", True),
        ("3", "3, 4", False),
    ],
)
def test_check_pairs(gold, answer, equal):
    assert check(gold, answer) is equal


def test_helpers():
    assert scientific_to_latex("-4.5e-3 and 1.2E+3.") == "-4.5\\times10^{-3} and 1.2\\times10^{+3}."
    assert scientific_to_latex("e^{2} + 3e + E_1") == "e^{2} + 3e + E_1"
    import sympy

    assert numbers_equal(sympy.Integer(2), sympy.Symbol("x")) is None
    assert numbers_equal(sympy.oo, sympy.oo) is None  # math-verify decides
    assert extract_answer("The answer isn't 0.") == (None, "none")
    assert extract_answer("The answer is 3 or 4.") == (None, "none")
    assert extract_answer("The answer is $\\frac{1}{2}$.") == ("\\frac{1}{2}", "answer_is")


def test_last_boxed_on_huge_inputs():
    assert last_boxed("\\boxed{" * 14300) is None
    assert last_boxed("\\boxed{" * 143000 + "7" + "}") == "7"
    assert last_boxed("\\boxed{1}" + "\\boxed{" * 143000) == "1"
    assert last_boxed("\\boxed{" * 50000 + "x" + "}" * 50000) == "x"
    assert last_boxed("}" * 100000 + "\\boxed{a{b}c}" + "{" * 100000) == "a{b}c"


def test_pathological_completions_return_within_the_time_limit():
    """Hang guard: each completion is extracted and checked inside the worker's limit (generous 10 s)."""
    task = get_task("math", timeout_s=10.0, workers=1)
    junk = [
        "\\boxed{" * 14300,
        "\\boxed{" * 14300 + "18",
        "answer is " * 50000,
        "#### " * 50000 + "x",
        "{" * 200000,
        "\\boxed{" + "\\frac{" * 20000,
        "\\boxed{1}" * 20000 + "\\boxed{" * 14300,
    ]
    scores = task.score_batch(junk, [{"answer": "18"}] * len(junk))
    assert [s.reward for s in scores] == [0.0] * len(junk)
    assert not any("timeout" in s.reason for s in scores), [s.reason for s in scores]
    assert scores[0].reason == "no final answer found (no \\boxed{}, #### or 'answer is')"
    assert scores[6].reason == "answer '1' does not match '18'"
    right = task.score_batch(["\\boxed{" * 14300 + "\\boxed{18}"], [{"answer": "18"}])
    assert right[0].correct
