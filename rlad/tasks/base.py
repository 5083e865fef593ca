"""The task interface: data + prompt format + one verifier that is both the RL reward and the eval check.

A `Task` loads a `datasets.Dataset` whose rows carry a `prompt` (a string, or chat messages
``[{"role": "user", "content": ...}]``), a `subset` label for per-difficulty reporting, a `reference`
completion that earns full reward, and whatever columns its verifier reads. `Task.score` turns one
completion into a `Score`; `Task.reward_funcs` wraps the same check in the calling convention of TRL's
`GRPOTrainer` (``f(prompts, completions, **columns) -> list[float]``), so training reward and evaluation
accuracy can never disagree about what "correct" means.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets

Completion = str | list[dict[str, Any]]
RewardFunc = Callable[..., list[float]]


class TaskDataError(ValueError):
    """Task data that cannot be used: a missing file or field, an unreadable record, a bad option."""


@dataclass(frozen=True)
class Score:
    """The verdict on one completion.

    `reward` is what RL optimises; `correct` is the task's notion of fully correct (what accuracy counts);
    `components` break the reward down for logging; `reason` says in words why it is not full marks.
    """

    reward: float
    components: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    correct: bool = False


PROMPT_STYLES = ("chat", "plain")


def make_prompt(text: str, style: str) -> str | list[dict[str, str]]:
    """``chat``: one user message ``[{"role": "user", "content": text}]``; ``plain``: the text itself."""
    if style == "chat":
        return [{"role": "user", "content": text}]
    if style == "plain":
        return text
    raise TaskDataError(f"unknown prompt_style {style!r}; valid: {', '.join(PROMPT_STYLES)}")


def check_generated_load(task: str, source: Any, split: str, extra: Mapping[str, Any], splits: Sequence[str]):
    """The arguments a generated task's ``load`` accepts: no data source, no extra options, a known split.

    >>> check_generated_load("sums", None, "test", {}, ("train", "test"))
    >>> check_generated_load("sums", "x.jsonl", "test", {}, ("train", "test"))
    Traceback (most recent call last):
    ...
    rlad.tasks.base.TaskDataError: sums generates its problems: pass no source and no extra options
    """
    if source is not None or extra:
        raise TaskDataError(f"{task} generates its problems: pass no source and no extra options")
    if split not in splits:
        raise TaskDataError(f"unknown split {split!r} for {task}; valid: {', '.join(splits)}")


def completion_text(completion: Completion | Mapping[str, Any]) -> str:
    """The text of a completion: a plain string, or the assistant turns of a conversational completion.

    >>> completion_text("A=k")
    'A=k'
    >>> completion_text([{"role": "assistant", "content": "<answer>x</answer>"}])
    '<answer>x</answer>'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    parts: list[str] = []
    for message in completion:
        if message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content", "")
        if isinstance(content, str):
            parts.append(content)
        else:  # multimodal style: [{"type": "text", "text": ...}, ...]
            parts.extend(part.get("text", "") for part in content if isinstance(part, Mapping))
    return "".join(parts)


def rows_from_columns(n: int, columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Turn TRL's column-wise reward kwargs into one dict per completion.

    Only list-valued kwargs with one entry per completion are dataset columns; TRL also passes objects
    such as `trainer_state` and `log_metric`, which are skipped.
    """
    keys = [k for k, v in columns.items() if isinstance(v, (list, tuple)) and len(v) == n]
    return [{k: columns[k][i] for k in keys} for i in range(n)]


class Task(ABC):
    """One task: `load` gives the data, `score` is the single definition of a correct completion."""

    name: str = ""

    @abstractmethod
    def load(
        self,
        source: str | None = None,
        split: str = "train",
        limit: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> datasets.Dataset:
        """Rows with at least `prompt`, `subset`, `reference` and the columns `score` reads."""

    @abstractmethod
    def score(self, completion: str, example: Mapping[str, Any]) -> Score:
        """Score one completion (plain text) against one dataset row."""

    def score_batch(
        self, completions: Sequence[Completion], examples: Sequence[Mapping[str, Any]]
    ) -> list[Score]:
        """Score many completions; tasks with expensive checks (code) override this to run in parallel."""
        return [self.score(completion_text(c), ex) for c, ex in zip(completions, examples, strict=True)]

    def components(self, completions: Sequence[Completion], **columns: Any) -> dict[str, list[float]]:
        """Per-component rewards for logging, one list per component (plus `reward` and `correct`)."""
        scores = self.score_batch(completions, rows_from_columns(len(completions), columns))
        return _columns_of(scores)

    def reward_funcs(self) -> list[RewardFunc]:
        """Reward functions for TRL's GRPOTrainer. TRL sums them, so there is exactly one per task.

        When TRL passes its `log_metric` callback, the function also logs the mean of each component
        (``"<task>/<component>"``), so the breakdown shows up next to the reward.
        """
        task = self

        def reward(prompts: Sequence[Any], completions: Sequence[Completion], **columns: Any) -> list[float]:
            scores = task.score_batch(completions, rows_from_columns(len(completions), columns))
            log_metric = columns.get("log_metric")
            if callable(log_metric) and scores:
                for key, values in _columns_of(scores).items():
                    log_metric(f"{task.name}/{key}", sum(values) / len(values))
            return [s.reward for s in scores]

        reward.__name__ = f"{self.name}_reward"
        reward.__qualname__ = reward.__name__
        return [reward]


def _columns_of(scores: Sequence[Score]) -> dict[str, list[float]]:
    keys: list[str] = []
    for s in scores:
        keys.extend(k for k in s.components if k not in keys)
    out = {k: [float(s.components.get(k, 0.0)) for s in scores] for k in keys}
    out["reward"] = [s.reward for s in scores]
    out["correct"] = [float(s.correct) for s in scores]
    return out
