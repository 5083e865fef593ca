"""Tasks by name: ``get_task("kk", reward="logic_rl").load(split="test")`` (data shipped in ``rlad/data``).

| name             | data                                   | verifier                                   |
| ---------------- | -------------------------------------- | ------------------------------------------ |
| `kk`             | Logic-RL Knights-and-Knaves parquet    | roles in the last ``<answer>`` block       |
| `kk_synthetic`   | generated K&K: English, compact, chain | same / strict compact answer               |
| `gsm8k`          | GSM8K jsonl or hub                     | math-verify on the last ``\\boxed{}``      |
| `math`           | AIME/AMC-style jsonl, hub datasets     | math-verify on the last ``\\boxed{}``      |
| `arithmetic`     | generated ``90-78-10=`` with scratchpad | the final ``A:<int>``                      |
| `code`           | MBPP / HumanEval-style jsonl           | fraction of tests passed in the sandbox    |
| `code_synthetic` | generated small integer functions      | fraction of tests passed in the sandbox    |
| `sums`           | generated ``What is 39 + 67?`` (chat)  | one agreed final ``The answer is N``       |
"""

from __future__ import annotations

import inspect
from typing import Any

from rlad.registry import Registry, UnknownNameError
from rlad.tasks.arithmetic import ArithmeticTask
from rlad.tasks.base import Score, Task, TaskDataError
from rlad.tasks.code.generator import CodeSyntheticTask
from rlad.tasks.code.task import CodeTask
from rlad.tasks.kk.task import KKSyntheticTask, KKTask
from rlad.tasks.math_tasks import GSM8KTask, MathTask
from rlad.tasks.sums import SumsTask

TASKS: Registry[type[Task]] = Registry("task")
for _cls in (
    KKTask,
    KKSyntheticTask,
    GSM8KTask,
    MathTask,
    ArithmeticTask,
    CodeTask,
    CodeSyntheticTask,
    SumsTask,
):
    TASKS.register(_cls.name)(_cls)


def get_task(name: str, **options: Any) -> Task:
    """An instance of the task registered as `name`; `options` go to its constructor.

    Unknown names raise `UnknownNameError` listing the valid names; unknown options raise `TaskDataError`
    listing the task's options.
    """
    cls = TASKS.get(name)
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TaskDataError(
            f"task {name!r} has no option(s) {unknown}; valid options: {', '.join(valid) or 'none'}"
        )
    return cls(**options)


def list_tasks() -> list[str]:
    return TASKS.names()


__all__ = ["TASKS", "Score", "Task", "TaskDataError", "UnknownNameError", "get_task", "list_tasks"]
