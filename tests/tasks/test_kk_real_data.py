"""The `kk` task on the real Logic-RL Knights-and-Knaves files shipped in rlad/data/kk."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from rlad.tasks import TaskDataError, get_task
from rlad.tasks.kk.logic import parse_statements, unique_solution
from rlad.tasks.loading import read_records

SIZES = (3, 4, 5, 6, 7)


@pytest.fixture(scope="module")
def kk_test(shared_data):
    return get_task("kk").load(str(shared_data / "kk"), split="test")


def _answer(names: list[str], roles: list[bool]) -> str:
    return "\n".join(
        f"({i + 1}) {n} is a {'knight' if r else 'knave'}" for i, (n, r) in enumerate(zip(names, roles))
    )


def _wrap(answer: str) -> str:
    return f"<think>checked every statement</think>\n<answer>\n{answer}\n</answer>"


def test_loads_every_size_with_the_interface_columns(kk_test):
    assert Counter(kk_test["subset"]) == {f"ppl{n}": 100 for n in SIZES}
    assert {"prompt", "subset", "names", "solution", "reference", "quiz", "statements"} <= set(
        kk_test.column_names
    )
    row = kk_test[0]
    assert row["prompt"][0]["role"] == "user" and row["quiz"] in row["prompt"][0]["content"]
    assert "<answer>" in row["prompt"][0]["content"]


def test_gold_answers_score_full_and_perturbations_score_less(kk_test):
    binary, shaped = get_task("kk"), get_task("kk", reward="logic_rl")
    for i, row in enumerate(kk_test):
        names, gold = row["names"], row["solution"]
        assert binary.score(row["reference"], row).reward == 1.0
        assert shaped.score(row["reference"], row).reward == 3.0
        good = _wrap(_answer(names, gold))
        assert binary.score(good, row).correct and shaped.score(good, row).reward == 3.0
        swapped = list(gold)
        swapped[i % len(gold)] = not swapped[i % len(gold)]
        dropped = "\n".join(_answer(names, gold).splitlines()[:-1])
        conflicting = _answer(names, gold) + f"\n{names[0]} is a {'knave' if gold[0] else 'knight'}"
        for bad, logic_rl in [
            (_wrap(_answer(names, swapped)), -0.5),
            (_wrap(dropped), -1.0),
            (_wrap(conflicting), -1.0),
            (good.replace("</answer>", ""), -3.0),
            (good.replace("<answer>", "<answer "), -3.0),
        ]:
            assert binary.score(bad, row).reward == 0.0, (i, bad)
            assert shaped.score(bad, row).reward == logic_rl, (i, bad)
        # binary grades only the last <answer> block; the shaped reward also wants the think layout
        assert binary.score(good.replace("</think>", ""), row).reward == 1.0
        assert shaped.score(good.replace("</think>", ""), row).reward == -3.0


def test_solver_reproduces_every_gold_solution(shared_data):
    for n in SIZES:
        for split in ("train", "test"):
            for record in read_records(str(shared_data / "kk" / f"{n}ppl_{split}.parquet")):
                assert unique_solution(parse_statements(record["statements"])) == list(record["solution"])


def test_logic_rl_prompt_style_keeps_the_pretemplated_prompt(shared_data):
    task = get_task("kk", prompt_style="logic_rl", reward="logic_rl")
    ds = task.load(str(shared_data / "kk" / "3ppl_test.parquet"), limit=5)
    for row in ds:
        assert row["prompt"].startswith("<|im_start|>system") and row["prompt"].endswith("<think>")
        assert not row["reference"].startswith("<think>")
        assert task.score(row["reference"], row).reward == 3.0


def test_filters_sampling_and_plain_prompts(shared_data):
    task = get_task("kk", n_people=[4, 6], prompt_style="plain")
    ds = task.load(str(shared_data / "kk"), split="test", limit=50, seed=3)
    assert len(ds) == 50 and set(ds["subset"]) == {"ppl4", "ppl6"}
    assert isinstance(ds[0]["prompt"], str)
    assert ds["quiz"] == task.load(str(shared_data / "kk"), split="test", limit=50, seed=3)["quiz"]
    assert ds["quiz"] != task.load(str(shared_data / "kk"), split="test", limit=50, seed=4)["quiz"]


def test_records_without_names_use_solution_text_format(tmp_path, shared_data):
    record = read_records(str(shared_data / "kk" / "5ppl_test.parquet"))[0]
    minimal = {"quiz": record["quiz"], "reward_model": record["reward_model"]}
    path = tmp_path / "kk.jsonl"
    path.write_text(json.dumps(minimal) + "\n")
    row = get_task("kk").load(str(path))[0]
    assert row["names"] == list(record["names"]) and row["solution"] == list(record["solution"])


def test_missing_fields_and_sources_are_named(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"names": ["A"], "solution": [True]}) + "\n")
    with pytest.raises(TaskDataError, match=r"broken.jsonl:1: missing field 'quiz'"):
        get_task("kk").load(str(path))
    path.write_text(json.dumps({"quiz": "q", "names": ["A"]}) + "\n")
    with pytest.raises(TaskDataError, match=r"broken.jsonl:1: missing field 'solution'"):
        get_task("kk").load(str(path))
    with pytest.raises(TaskDataError, match="holds only split"):
        get_task("kk").load(split="ood")  # no source: the shipped copy, which has train and test only
