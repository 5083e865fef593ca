"""The Task interface: Score, completion text, TRL-style reward functions, the registry."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from rlad.registry import UnknownNameError
from rlad.tasks import TASKS, Score, Task, TaskDataError, get_task, list_tasks
from rlad.tasks.base import completion_text, make_prompt, rows_from_columns


def test_score_is_frozen_with_the_documented_fields():
    s = Score(reward=0.5, components={"format": 1.0}, reason="half")
    assert (s.reward, s.components, s.reason, s.correct) == (0.5, {"format": 1.0}, "half", False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.reward = 1.0  # type: ignore[misc]


def test_completion_text_handles_strings_and_messages():
    assert completion_text("A=k") == "A=k"
    assert (
        completion_text([{"role": "assistant", "content": "x"}, {"role": "assistant", "content": "y"}])
        == "xy"
    )
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "z"}]}]) == "z"
    assert completion_text({"role": "assistant", "content": "w"}) == "w"
    assert (
        completion_text([{"role": "tool", "content": "ignored"}, {"role": "assistant", "content": "v"}])
        == "v"
    )


def test_make_prompt_styles():
    assert make_prompt("q", "plain") == "q"
    assert make_prompt("q", "chat") == [{"role": "user", "content": "q"}]
    with pytest.raises(TaskDataError, match="chat, plain"):
        make_prompt("q", "html")


def test_rows_from_columns_skips_trl_objects():
    rows = rows_from_columns(
        2, {"answer": [1, 2], "trainer_state": object(), "log_metric": print, "other": [0]}
    )
    assert rows == [{"answer": 1}, {"answer": 2}]


def test_registry_lists_all_tasks_and_rejects_unknown_names():
    assert list_tasks() == [
        "arithmetic",
        "code",
        "code_synthetic",
        "gsm8k",
        "kk",
        "kk_synthetic",
        "math",
        "sums",
    ]
    for name in list_tasks():
        assert TASKS.get(name).name == name
    with pytest.raises(UnknownNameError, match="valid names: arithmetic, code, code_synthetic"):
        get_task("knights")


def test_get_task_passes_options_and_rejects_unknown_ones():
    task = get_task("kk", reward="logic_rl")
    assert isinstance(task, Task) and task.reward == "logic_rl"
    with pytest.raises(
        TaskDataError, match=r"no option\(s\) \['rewad'\]; valid options: prompt_style, reward, n_people"
    ):
        get_task("kk", rewad="binary")
    with pytest.raises(TaskDataError, match="unknown reward 'shaped'"):
        get_task("kk", reward="shaped")


def test_reward_func_follows_trl_calling_convention():
    task = get_task("arithmetic")
    (reward,) = task.reward_funcs()
    assert reward.__name__ == "arithmetic_reward"
    logged: dict[str, float] = {}
    kwargs: dict[str, Any] = {
        "answer": [2, 2, 5],
        "subset": ["ops3"] * 3,
        "completion_ids": [[1], [2], [3]],
        "trainer_state": object(),
        "log_extra": lambda *a: None,
        "log_metric": lambda name, value: logged.__setitem__(name, value),
    }
    completions = ["90-78=12,12-10=2;A:2", "A:2", [{"role": "assistant", "content": "1+4=5;A:5"}]]
    assert reward(prompts=["90-78-10="] * 3, completions=completions, **kwargs) == [1.0, 1.0, 1.0]
    assert logged["arithmetic/format"] == pytest.approx(2 / 3)
    assert logged["arithmetic/correct"] == 1.0


def test_components_gives_one_list_per_component():
    task = get_task("arithmetic")
    out = task.components(["1+1=2;A:2", "1+1=3;A:3", "nonsense"], answer=[2, 2, 2])
    assert out == {
        "format": [1.0, 1.0, 0.0],
        "steps_correct": [1.0, 0.0, 0.0],
        "reward": [1.0, 0.0, 0.0],
        "correct": [1.0, 0.0, 0.0],
    }
