"""`gsm8k` and `math` on rlad/data/math: gold answers verify, perturbed ones do not, junk is harmless."""

from __future__ import annotations

import json
from collections import Counter

import datasets
import pytest

from rlad.tasks import TaskDataError, get_task
from rlad.tasks.math_extract import extract_answer, gsm8k_answer, last_boxed


@pytest.fixture(scope="module")
def math_task():
    return get_task("math", workers=2)


@pytest.fixture(scope="module")
def gsm8k(shared_data):
    return get_task("gsm8k", workers=2), get_task("gsm8k").load(
        str(shared_data / "math" / "gsm8k_test.jsonl"), split="test"
    )


@pytest.mark.parametrize("name", ["aime24", "amc23"])
def test_competition_gold_answers_verify_and_perturbations_do_not(math_task, shared_data, name):
    ds = math_task.load(str(shared_data / "math" / f"{name}.jsonl"), split="test")
    assert len(ds) == {"aime24": 30, "amc23": 40}[name] and set(ds["subset"]) == {name}
    rows = list(ds)
    boxed = [f"Reasoning... so the answer is $\\boxed{{{a}}}$." for a in ds["answer"]]
    assert all(s.correct and s.reward == 1.0 for s in math_task.score_batch(boxed, rows))
    assert all(s.correct for s in math_task.score_batch(ds["reference"], rows))
    off_by_one = [f"\\boxed{{{int(a) + 1}}}" for a in ds["answer"]]
    scores = math_task.score_batch(off_by_one, rows)
    assert all(s.reward == 0.0 and "does not match" in s.reason for s in scores)


def test_amc_float_answers_are_normalised(math_task, shared_data):
    ds = math_task.load(str(shared_data / "math" / "amc23.jsonl"), split="test")
    assert ds[0]["answer"] == "27" and "-1" in ds["answer"]


def test_every_gsm8k_gold_answer_verifies(gsm8k):
    task, ds = gsm8k
    assert len(ds) == 1319 and set(ds["subset"]) == {"gsm8k"}
    assert all(s.correct for s in task.score_batch(ds["reference"], list(ds)))
    assert not any("<<" in r for r in ds["reference"])


def test_gsm8k_perturbed_answers_fail_and_fallbacks_work(gsm8k):
    task, ds = gsm8k
    rows = list(ds)[:300]
    wrong = [f"\\boxed{{{int(r['answer']) + 7}}}" for r in rows]
    assert not any(s.correct for s in task.score_batch(wrong, rows))
    hashes = [f"Some steps.\n#### {r['answer']}" for r in rows[:20]]
    answer_is = [f"So the answer is {r['answer']}." for r in rows[:20]]
    assert all(s.correct for s in task.score_batch(hashes + answer_is, rows[:20] * 2))


def test_last_box_wins_and_chat_completions_work(math_task):
    (reward,) = math_task.reward_funcs()
    completions = [
        [{"role": "assistant", "content": "first \\boxed{17}, then \\boxed{18}"}],
        "first \\boxed{18}, then \\boxed{17}",
        "\\boxed{\\frac{36}{2}}",
        "\\boxed{18.0}",
    ]
    assert reward(prompts=["q"] * 4, completions=completions, answer=["18"] * 4) == [1.0, 0.0, 1.0, 1.0]
    assert math_task.components(["\\boxed{18}", "#### 18", "", "\\boxed{19}"], answer=["18"] * 4) == {
        "format": [1.0, 0.0, 0.0, 1.0],
        "answer_found": [1.0, 1.0, 0.0, 1.0],
        "reward": [1.0, 1.0, 0.0, 0.0],
        "correct": [1.0, 1.0, 0.0, 0.0],
    }


def test_malformed_empty_and_huge_answers_score_zero_and_the_endless_ones_are_cut_off():
    # Checking 9^{9^{9}} or (10^8)! had not finished after 30 s here, so on any machine a timeout verdict on
    # them comes from the 0.5 s limit; on a slow machine other junk may time out too (the same zero).
    task = get_task("math", timeout_s=0.5, workers=2)
    junk = [
        "",
        "no answer here",
        "\\boxed{\\frac{",
        "\\boxed{}",
        "\\boxed{\\sqrt[}{}}",
        "}}{{\\boxed{)(}",
        "\\boxed{" + "9" * 200 + "}",
        "\\boxed{" + "9" * 5000 + "}",
        "\\boxed{9^{9^{9}}}",
        "\\boxed{10^{10^{10}}}",
        "\\boxed{(10^{8})!}",
        "\x00\x01\\boxed{\udcff}",
    ]
    scores = task.score_batch(junk, [{"answer": "18"}] * len(junk))
    assert [s.reward for s in scores] == [0.0] * len(junk)
    assert all(s.reason for s in scores)
    assert scores[7].reason == "final answer longer than 256 characters"
    cut_off = "math-verify timeout: math-verify took longer than 0.5 s"
    assert scores[8].reason == cut_off and scores[10].reason == cut_off


def test_configurable_fields_and_solution_fallback(tmp_path):
    path = tmp_path / "custom.jsonl"
    rows = [
        {"q": "What is 6*7?", "a": 42, "lvl": "easy"},
        {"q": "Half of 1?", "a": "\\frac{1}{2}", "lvl": "hard"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = get_task("math", question_field="q", answer_field="a", subset_field="lvl", prompt_style="plain")
    ds = task.load(str(path))
    assert ds["answer"] == ["42", "\\frac{1}{2}"] and ds["subset"] == ["easy", "hard"]
    assert ds[0]["prompt"].startswith("What is 6*7?") and "\\boxed{}" in ds[0]["prompt"]
    assert [s.correct for s in task.score_batch(["\\boxed{42}", "\\boxed{0.5}"], list(ds))] == [True, True]
    math_style = tmp_path / "math_style.jsonl"
    math_style.write_text(json.dumps({"problem": "p", "solution": "so $x = \\boxed{\\frac{3}{4}}$."}) + "\n")
    assert get_task("math").load(str(math_style))[0]["answer"] == "\\frac{3}{4}"
    with pytest.raises(TaskDataError, match=r"custom.jsonl:1: missing field 'answer'"):
        get_task("math", question_field="q").load(str(path))
    with pytest.raises(TaskDataError, match=r"none of the fields \['problem', 'question'\]"):
        get_task("math", answer_field="a").load(str(path))


def test_hub_style_and_saved_datasets(tmp_path, shared_data):
    saved = tmp_path / "saved"
    datasets.Dataset.from_list([{"problem": "1+1?", "answer": "2"}]).save_to_disk(str(saved))
    assert get_task("math").load(str(saved))["answer"] == ["2"]
    ds = get_task("gsm8k").load(
        "json",
        split="train",
        data_files=str(shared_data / "math" / "gsm8k_test.jsonl"),
        cache_dir=str(tmp_path / "c"),
    )
    assert len(ds) == 1319 and Counter(ds["subset"]) == {"gsm8k": 1319} and ds[0]["answer"] == "18"


def test_extraction_helpers():
    assert last_boxed("\\boxed{a{b}c} and \\fbox{d}") == "d"
    assert extract_answer("\\boxed{ 5 }") == ("5", "boxed")
    assert extract_answer("#### 1,234") == ("1,234", "hashes")
    assert extract_answer("The answer is: \\(x^2\\).") == ("x^2", "answer_is")
    assert extract_answer("nothing") == (None, "none")
    assert gsm8k_answer("a\n#### 1,018") == "1018" and gsm8k_answer("none") is None


def test_gsm8k_record_without_final_answer_is_named(tmp_path):
    path = tmp_path / "gsm.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "no hashes"}) + "\n")
    with pytest.raises(TaskDataError, match=r"gsm.jsonl:1: field 'answer' has no '#### <number>' line"):
        get_task("gsm8k").load(str(path))
