"""Teacher agreement: how teacher-like the student's completions read, as the teacher's mean log-prob.

For a prompt x and a student completion y = (y_1..y_T)::

    agreement(x, y) = (1 / T) * sum_t log pi_T(y_t | x, y_<t)

the mean per-token log-probability of the student's tokens under the teacher (at temperature 1, the
teacher's own distribution). It is the negative of the per-token cross-entropy of the student's text
under the teacher: 0 is the most teacher-like value possible, and exp(-agreement) is the teacher's
perplexity on the student's outputs. Distillation should raise it (towards the teacher's own value on
its own samples); plain RL need not.

The log-probs come from the same scorer the trainer uses for TRRD (:class:`rlad.teacher.TeacherScorer`,
by default :class:`rlad.teacher.LocalTeacher` and :func:`rlad.teacher.sampled_token_logprobs`): one
no-grad forward of the teacher over prompt + completion, only the completion positions projected
through the LM head in tiles, so no float32 (batch, length, vocab) tensor is ever built.

Completions arrive as text (the backends return strings), so they are re-tokenized with the teacher's
tokenizer: prompt ids exactly as the student saw them (:func:`rlad.eval.generation.encode_prompt`),
completion ids without special tokens. With a shared tokenizer (the RLAD setting) that reproduces the
sampled tokens, except the final eos, which is not scored. An empty completion has no agreement
(``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from rlad.eval.generation import Prompt, encode_prompt
from rlad.teacher import LocalTeacher, TeacherScorer

Teacher = TeacherScorer | tuple[Any, Any]  # a scorer, or (model, tokenizer) of a local teacher


def as_scorer(teacher: Teacher) -> TeacherScorer:
    """A :class:`TeacherScorer` from a scorer or a ``(model, tokenizer)`` pair (wrapped in ``LocalTeacher``)."""
    if isinstance(teacher, tuple):
        model, tokenizer = teacher
        return LocalTeacher(model, tokenizer)
    if not isinstance(teacher, TeacherScorer):
        raise TypeError(f"teacher must be a TeacherScorer or a (model, tokenizer) tuple, got {type(teacher)}")
    return teacher


def _pad(rows: list[list[int]], pad_id: int, side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token-id rows to one width: ids (B, W) and mask (B, W)."""
    width = max(1, max(len(r) for r in rows))
    ids, mask = [], []
    for r in rows:
        fill = width - len(r)
        ids.append([pad_id] * fill + r if side == "left" else r + [pad_id] * fill)
        mask.append([0] * fill + [1] * len(r) if side == "left" else [1] * len(r) + [0] * fill)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)


@torch.no_grad()
def teacher_agreement(
    teacher: Teacher,
    prompts: Sequence[Prompt],
    completions: Sequence[str],
    batch_size: int = 8,
    show_progress: bool = True,
) -> list[float | None]:
    """Mean per-token teacher log-prob of each completion given its prompt (``None`` if it is empty).

    ``prompts[i]`` and ``completions[i]`` form pair i. Pairs are scored in batches of ``batch_size``,
    sorted by length so that a batch holds little padding; the result is in the input order.
    """
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    scorer = as_scorer(teacher)
    tokenizer = scorer.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    prompt_rows = [encode_prompt(tokenizer, p) for p in prompts]
    completion_rows = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in completions]

    result: list[float | None] = [None] * len(prompts)
    todo = [i for i, c in enumerate(completion_rows) if c]  # empty completions stay None
    todo.sort(key=lambda i: len(prompt_rows[i]) + len(completion_rows[i]))
    starts = range(0, len(todo), batch_size)
    for start in tqdm(starts, desc="teacher agreement", unit="batch", disable=not show_progress):
        idx = todo[start : start + batch_size]
        prompt_ids, prompt_mask = _pad([prompt_rows[i] for i in idx], pad_id, "left")  # (B, P)
        completion_ids, completion_mask = _pad([completion_rows[i] for i in idx], pad_id, "right")  # (B, T)
        logps = scorer.score(prompt_ids, prompt_mask, completion_ids, completion_mask)  # (B, T), 0 at padding
        mask = completion_mask.to(logps.device).bool()  # (B, T)
        total = torch.where(mask, logps.float(), torch.zeros_like(logps, dtype=torch.float32)).sum(-1)  # (B,)
        means = total / mask.sum(-1)  # (B,)
        for i, value in zip(idx, means.tolist()):
            result[i] = value
    return result
