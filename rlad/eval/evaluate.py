"""Evaluate a model on a task: sample, verify, summarise (docs/method.md section 7).

One call wires the stages together; the maths lives in :mod:`rlad.eval.metrics`::

    dataset rows --backend.generate--> n completions per prompt  (+ 1 greedy completion per prompt)
                 --task.score-------> Score per completion      (the same check as the RL reward)
                 --teacher (opt.)---> teacher's mean log-prob per completion
                 --build_report-----> EvalReport: Mean@k, Pass@k, greedy accuracy, format rate,
                                      teacher agreement; per subset, in/out of distribution, overall

Defaults (:class:`~rlad.eval.settings.EvalSettings`) follow the paper's protocol (temperature 0.6,
top-p 0.95) with a smaller k (the paper uses k = 32); pass ``k=32`` to match it. Every sample and its score are kept in the report for audit.

rlad's callers use :func:`evaluate_model` with an :class:`~rlad.eval.settings.EvalSettings` (the one
place for the defaults); :func:`evaluate` is the stage it wires, for a custom backend or scripted tests::

    settings = EvalSettings(k=8, greedy=True)
    report = evaluate_model(model, tokenizer, task, task.load(split="test"), settings, ood_subsets={"ppl8"})
    report.to_json("eval.json"); print(report.to_markdown())
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate
from typing import Any, Protocol

from rlad.eval.generation import GenerationBackend, HFBackend
from rlad.eval.report import (
    EvalReport,
    OODSubsets,
    ProblemRecord,
    SampleRecord,
    build_report,
    compare_reports,
)
from rlad.eval.settings import EvalSettings
from rlad.eval.teacher_agreement import Teacher, teacher_agreement

__all__ = ["EvalReport", "ScoringTask", "compare_reports", "evaluate", "evaluate_model"]

UNLABELLED = "unlabelled"  # the subset of rows that carry no ``subset`` label
DEFAULTS = EvalSettings()  # evaluate()'s keyword defaults are the record's: one place for them


class ScoringTask(Protocol):
    """What evaluation needs from a task (:class:`rlad.tasks.base.Task` has it)."""

    def score(self, completion: str, example: Mapping[str, Any]) -> Any:
        """A Score: ``.reward`` (float), ``.correct`` (bool), ``.components`` (dict), ``.reason`` (str)."""
        ...


def evaluate(
    backend: GenerationBackend,
    task: ScoringTask,
    dataset: Iterable[Mapping[str, Any]],
    *,
    k: int = DEFAULTS.k,
    n: int | None = DEFAULTS.n,
    max_new_tokens: int = DEFAULTS.max_new_tokens,
    temperature: float = DEFAULTS.temperature,
    top_p: float = DEFAULTS.top_p,
    seed: int = DEFAULTS.seed,
    greedy: bool = True,  # unlike EvalSettings: a direct call reports the greedy accuracy too
    teacher: Teacher | None = None,
    ood_subsets: OODSubsets = (),
    name: str = "",
    format_component: str = "format",
    teacher_batch_size: int = 8,
    show_progress: bool = True,
) -> EvalReport:
    """Sample ``n`` (default ``k``) completions per problem, score them, and summarise.

    Args:
        backend: samples completions (:class:`~rlad.eval.generation.HFBackend` or ``VLLMBackend``).
        task: scores a completion against its dataset row; ``task.score_batch`` is used if it exists.
        dataset: rows with a ``prompt`` (string or chat messages), optionally a ``subset`` label, and
            the fields the task's verifier reads (a ``datasets.Dataset`` or a list of dicts).
        k: Mean@k and Pass@k are reported for this k; ``n >= k`` samples are drawn per problem.
        greedy: also decode one greedy completion per problem and report its accuracy.
        teacher: a :class:`rlad.teacher.TeacherScorer` or ``(model, tokenizer)``; if given, the
            teacher's mean per-token log-prob of every sampled completion (teacher agreement).
        ood_subsets: the subset labels that are out of distribution, or a predicate on a label
            (``lambda s: s.startswith("ood_")``); the report then also summarises the in-distribution
            and out-of-distribution problems as two groups.
        format_component: the ``Score.components`` key that scores the answer format; a sample is
            format-compliant when that component is positive. No such key: no format rate.
    """
    n = k if n is None else n
    if k < 1 or n < k:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    rows = [dict(row) for row in dataset]
    if not rows:
        raise ValueError("the dataset is empty")
    missing = [i for i, row in enumerate(rows) if "prompt" not in row]
    if missing:
        raise ValueError(f"{len(missing)} rows have no 'prompt' field (first: row {missing[0]})")
    prompts = [row["prompt"] for row in rows]
    sampling = {"max_new_tokens": max_new_tokens, "top_p": top_p, "seed": seed}

    sampled = backend.generate(prompts, n=n, temperature=temperature, **sampling)  # P lists of n strings
    _check_shape(sampled, len(rows), n, "sampled")
    samples = _score(task, rows, sampled, format_component)  # P lists of n SampleRecords

    greedy_samples: list[SampleRecord | None] = [None] * len(rows)
    if greedy:
        decoded = backend.generate(prompts, n=1, temperature=0.0, **sampling)  # P lists of 1 string
        _check_shape(decoded, len(rows), 1, "greedy")
        greedy_samples = [s[0] for s in _score(task, rows, decoded, format_component)]

    if teacher is not None:
        flat = [(p, s) for p, group in zip(prompts, samples) for s in group]  # P * n (prompt, sample)
        agreement = teacher_agreement(
            teacher,
            [p for p, _ in flat],
            [s.completion for _, s in flat],
            batch_size=teacher_batch_size,
            show_progress=show_progress,
        )
        for (_, s), value in zip(flat, agreement):
            s.teacher_logprob = value

    problems = [
        ProblemRecord(index=i, subset=str(row.get("subset") or UNLABELLED), example=row, samples=s, greedy=g)
        for i, (row, s, g) in enumerate(zip(rows, samples, greedy_samples))
    ]
    config = {
        "n": n,
        "temperature": temperature,
        "top_p": top_p,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "greedy": greedy,
        "teacher": teacher is not None,
        "backend": type(backend).__name__,
        "task": getattr(task, "name", "") or type(task).__name__,
    }
    return build_report(name, config, problems, k=k, ood_subsets=ood_subsets)


def evaluate_model(
    model: Any,
    tokenizer: Any,
    task: ScoringTask,
    dataset: Iterable[Mapping[str, Any]],
    settings: EvalSettings,
    *,
    backend: GenerationBackend | None = None,
    teacher: Teacher | None = None,
    ood_subsets: OODSubsets = (),
    name: str = "",
    show_progress: bool = False,
) -> EvalReport:
    """:func:`evaluate` a loaded model with ``settings``: the one entry point of rlad's callers (the CLI,
    the comparisons, the pair builder, the packaged teachers, the validation during training), so none
    of them keeps its own sampling constants. Every field of :class:`EvalSettings` is an argument of
    :func:`evaluate` but the batch size, the :class:`~rlad.eval.generation.HFBackend`'s.

    ``backend`` replaces the HF backend (``rlad eval --backend vllm``); ``model`` and ``tokenizer`` are
    then None and ``settings.batch_size`` is unused (vLLM batches by itself).
    """
    fields = dataclasses.asdict(settings)
    batch_size = fields.pop("batch_size")
    if backend is None:
        backend = HFBackend(model, tokenizer, batch_size=batch_size, show_progress=show_progress)
    elif model is not None or tokenizer is not None:
        raise ValueError("pass either a model and tokenizer or a backend, not both")
    return evaluate(
        backend,
        task,
        dataset,
        **fields,
        teacher=teacher,
        ood_subsets=ood_subsets,
        name=name,
        show_progress=show_progress,
    )


def _check_shape(completions: Sequence[Sequence[str]], num_prompts: int, n: int, what: str) -> None:
    if len(completions) != num_prompts or any(len(group) != n for group in completions):
        sizes = sorted({len(group) for group in completions})
        raise ValueError(
            f"backend returned {len(completions)} {what} groups of sizes {sizes}, expected {num_prompts} of {n}"
        )


def _score(
    task: ScoringTask,
    rows: Sequence[dict[str, Any]],
    completions: Sequence[Sequence[str]],
    format_component: str,
) -> list[list[SampleRecord]]:
    """Score every completion against its row; (P, n) strings in, (P, n) records out."""
    flat_rows = [row for row, group in zip(rows, completions) for _ in group]  # P * n
    flat = [c for group in completions for c in group]  # P * n
    score_batch = getattr(task, "score_batch", None)
    if callable(score_batch):
        scores = score_batch(flat, flat_rows)
    else:
        scores = [task.score(c, row) for c, row in zip(flat, flat_rows)]
    records = []
    for completion, score in zip(flat, scores):
        components = {key: float(v) for key, v in score.components.items()}
        fmt = components.get(format_component)
        records.append(
            SampleRecord(
                completion=completion,
                reward=float(score.reward),
                correct=bool(score.correct),
                components=components,
                reason=str(getattr(score, "reason", "")),
                format_ok=None if fmt is None else fmt > 0,
            )
        )
    ends = list(accumulate(len(group) for group in completions))
    return [records[end - len(group) : end] for group, end in zip(completions, ends)]
