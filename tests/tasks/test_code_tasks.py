"""`code` (MBPP / HumanEval-style files) and `code_synthetic` (generated f(x) problems)."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from rlad.tasks import TaskDataError, get_task
from rlad.tasks.code.generator import PROBES, evaluate, random_expr, render
from rlad.tasks.code.task import extract_code, split_check

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def code_task():
    return get_task("code", max_workers=4)


def test_mbpp_rows_and_rewards(code_task):
    ds = code_task.load(str(FIXTURES / "mbpp_sample.jsonl"))
    assert ds["entry_point"] == ["sum_squares", "sorted_unique", "count_vowels"] and set(ds["subset"]) == {
        "mbpp"
    }
    prompt = ds[0]["prompt"][0]["content"]
    assert "assert sum_squares(1, 2) == 5" in prompt and "assert sum_squares(0, 0)" not in prompt
    rows = list(ds)
    answers = [
        ds[0]["reference"],
        "```python\ndef sum_squares(a, b):\n    return a * a + b\n```",  # passes 1 of 3
        "def sorted_unique(xs):\n    return xs",  # passes 2 of 3 ([] and [5, 5] -> no: [5, 5] != [5])
        ds[2]["reference"],
    ]
    scores = code_task.score_batch(answers, [rows[0], rows[0], rows[1], rows[2]])
    assert [s.reward for s in scores] == [1.0, pytest.approx(1 / 3), pytest.approx(1 / 3), 1.0]
    assert [s.correct for s in scores] == [True, False, False, True]
    assert scores[1].reason.startswith("1/3 tests passed; test 0: AssertionError")
    assert scores[1].components == {
        "pass_fraction": pytest.approx(1 / 3),
        "format": 1.0,
        "limit_hit": 0.0,
        "unsplit": 0.0,
    }
    broken = code_task.score("def sum_squares(a, b) return a", rows[0])
    assert (broken.reward, broken.components["format"]) == (0.0, 0.0)
    challenge = get_task("code", include_challenge_tests=True).load(str(FIXTURES / "mbpp_sample.jsonl"))
    assert len(challenge[0]["tests"]) == 4


def test_humaneval_checks_are_split_into_asserts_when_flat(code_task):
    ds = code_task.load(str(FIXTURES / "humaneval_sample.jsonl"))
    first, second = ds[0], ds[1]
    assert first["tests"] == [
        "assert candidate([]) == []",
        "assert candidate([1, 3, 2]) == [1, 3, 3]",
        "assert candidate([5, 4, 6]) == [5, 5, 6]",
    ]
    assert first["setup"] == "METADATA = {'author': 'rlad'}\ncandidate = running_max"
    assert second["tests"] == ["check(is_palindrome)"]  # a loop in check: kept whole
    body_only = "    best = None\n    out = []\n    for x in xs:\n        best = x if best is None else max(best, x)\n        out.append(best)\n    return out\n"
    wrong = "```python\ndef running_max(xs):\n    return xs\n```"
    scores = code_task.score_batch(
        [first["reference"], body_only, wrong, second["reference"]], [first] * 3 + [second]
    )
    assert [s.reward for s in scores] == [1.0, 1.0, pytest.approx(1 / 3), 1.0]
    assert [s.components["unsplit"] for s in scores] == [0.0, 0.0, 0.0, 1.0]  # the loop in check()
    strict = get_task("code", unsplit_tests="fail").score(second["reference"], second)
    assert (strict.reward, strict.components["unsplit"]) == (0.0, 1.0)


def test_native_records_and_errors(tmp_path, code_task):
    path = tmp_path / "native.jsonl"
    record = {
        "prompt": "Write double(x).",
        "tests": ["assert double(2) == 4"],
        "entry_point": "double",
        "subset": "easy",
    }
    path.write_text(json.dumps(record) + "\n")
    row = code_task.load(str(path))[0]
    assert (row["subset"], row["tests"], row["reference"]) == ("easy", ["assert double(2) == 4"], "")
    assert code_task.score("def double(x):\n    return 2 * x", row).correct
    path.write_text(json.dumps({"prompt": "p"}) + "\n")
    with pytest.raises(TaskDataError, match=r"native.jsonl:1: missing field 'tests'"):
        code_task.load(str(path))
    path.write_text(json.dumps({**record, "tests": ["assert double(2) =="]}) + "\n")
    with pytest.raises(TaskDataError, match=r"native.jsonl:1: test 0 does not parse"):
        code_task.load(str(path))


def test_extract_code():
    two_blocks = "First:\n```python\nprint(1)\n```\nThen:\n```python\ndef g(x):\n    return x\n```\nUsage:\n```\ng(1)\n```"
    assert extract_code(two_blocks, "g") == "def g(x):\n    return x\n"
    assert extract_code(two_blocks) == "g(1)\n"
    assert extract_code("def f(x):return x*3+1") == "def f(x):return x*3+1"
    assert extract_code("```python\ndef f(x):\n    return 1") == "def f(x):\n    return 1"


def test_split_check_keeps_helpers_out_of_the_tests():
    test = "import math\n\ndef check(candidate):\n    tol = 1e-6\n    assert abs(candidate(2) - math.sqrt(2)) < tol\n    assert candidate(0) == 0\n"
    setup, tests = split_check(test, "root")
    assert setup == "import math\ncandidate = root\ntol = 1e-06"
    assert tests == ["assert abs(candidate(2) - math.sqrt(2)) < tol", "assert candidate(0) == 0"]


# --- code_synthetic -------------------------------------------------------------------------------


def test_render_matches_evaluate():
    rng = random.Random(0)
    for n_ops in (1, 2, 3, 4):
        for _ in range(200):
            expr = random_expr(rng, n_ops, "+-*%")
            source = render(expr)
            assert "x" in source and len(re.findall(r"[-+*%]", source)) == n_ops
            assert [eval(source, {"x": x}) for x in PROBES] == [evaluate(expr, x) for x in PROBES]


def test_compact_problems_pass_their_references_and_punish_memorising():
    task = get_task("code_synthetic", max_workers=4)
    train, test = task.load(split="train"), task.load(split="test", limit=30)
    assert Counter(train["subset"]) == {"ops1": 1000, "ops2": 1000, "ops3": 1000}
    assert Counter(test["subset"]) == {"ops1": 10, "ops2": 10, "ops3": 10}
    assert len(set(train["prompt"])) == len(train)
    behaviour = {tuple(evaluate_source(r["task_id"], x) for x in PROBES) for r in train}
    assert not behaviour & {tuple(evaluate_source(r["task_id"], x) for x in PROBES) for r in test}
    row = test[0]
    assert re.fullmatch(r"(f\(\d\)=-?\d+;){3}f\(\d\)=-?\d+\?", row["prompt"]) and len(row["tests"]) == 8
    shown = dict(re.findall(r"f\((\d)\)=(-?\d+)", row["prompt"]))
    memorised = "def f(x):return {" + ",".join(f"{k}:{v}" for k, v in shown.items()) + "}.get(x, 0)"
    scores = task.score_batch([r["reference"] for r in test] + [memorised], list(test) + [row])
    assert all(s.reward == 1.0 for s in scores[:-1])
    assert scores[-1].reward == 0.5


def evaluate_source(source: str, x: int) -> int:
    return eval(source, {"x": x})


def test_natural_style_uses_chat_prompts_and_fenced_references():
    task = get_task("code_synthetic", style="natural", n_ops=(2,), ops="+-*%")
    row = task.load(split="test", limit=1)[0]
    assert row["prompt"][0]["content"].startswith("Write a Python function f(x) such that f(")
    assert row["reference"].startswith("```python\ndef f(x):\n    return ")
    assert task.score(row["reference"], row).correct


def test_code_synthetic_rejects_sources_and_bad_options():
    with pytest.raises(TaskDataError, match="no source"):
        get_task("code_synthetic").load("x.jsonl")
    with pytest.raises(TaskDataError, match="unknown style"):
        get_task("code_synthetic", style="verbose")
    with pytest.raises(TaskDataError, match="subset of"):
        get_task("code_synthetic", ops="+/")
