"""Math word problems: `gsm8k` and `math` (AIME/AMC-style files and hub datasets), verified by math-verify.

The completion's final answer (`math_extract.extract_answer`: last ``\\boxed{}``, else ``####``, else a
bare "answer is ...") is compared with the gold answer (`math_verify_timeout.check`: whole-answer parses
only, scientific notation, a relative tolerance for decimals, math-verify for the rest); extraction and
comparison run together under a per-completion time limit. Reward 1 if equal, else 0; answers longer than
``max_answer_chars`` are refused without being parsed. Rows: ``prompt``, ``subset``, ``question``, ``answer`` (gold, as text),
``reference``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets

from rlad.tasks.base import (
    PROMPT_STYLES,
    Completion,
    Score,
    Task,
    TaskDataError,
    completion_text,
    make_prompt,
)
from rlad.tasks.loading import ORIGIN, first_field, get_field, read_records, sample, to_dataset
from rlad.tasks.math_extract import gsm8k_answer, last_boxed, normalize_gold
from rlad.tasks.math_verify_timeout import MathVerifier, Verdict

INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
_CALCULATOR = re.compile(r"<<[^>]*>>")


class MathTask(Task):
    """Problems with a gold answer, from jsonl/json/parquet files, directories or hub datasets.

    Options: ``question_field`` (default: the first of ``problem``, ``question``), ``answer_field``
    (``answer``; if absent, the last ``\\boxed{}`` of ``solution_field`` is used, as in MATH),
    ``solution_field`` (``solution``), ``subset_field`` (e.g. ``level``; default: the file name),
    ``prompt_style`` (``chat``/``plain``), ``timeout_s`` and ``timeout_mode`` (``process``/``signal``) of
    math-verify, ``workers`` (math-verify processes), ``max_answer_chars``. ``load(split="test")`` with
    no source reads the shipped AIME 2024 and AMC 2023 files (subsets ``aime24``, ``amc23``).
    """

    name = "math"
    shipped: tuple[str, ...] = ("aime24", "amc23")  # what load(source=None) reads: test split only

    def __init__(
        self,
        question_field: str | None = None,
        answer_field: str = "answer",
        solution_field: str = "solution",
        subset_field: str | None = None,
        prompt_style: str = "chat",
        timeout_s: float = 2.0,
        timeout_mode: str = "process",
        workers: int = 1,
        max_answer_chars: int = 256,
    ):
        if prompt_style not in PROMPT_STYLES:
            raise TaskDataError(f"unknown prompt_style {prompt_style!r}; valid: {', '.join(PROMPT_STYLES)}")
        self.question_fields = (question_field,) if question_field else ("problem", "question")
        self.answer_field, self.solution_field, self.subset_field = answer_field, solution_field, subset_field
        self.prompt_style, self.max_answer_chars = prompt_style, max_answer_chars
        self.verifier = MathVerifier(timeout_s=timeout_s, mode=timeout_mode, workers=workers)

    def load(
        self,
        source: str | None = None,
        split: str = "train",
        limit: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> datasets.Dataset:
        names = self.shipped if source is None else (source,)  # None: the copies in rlad/data/math
        records = sample([r for name in names for r in read_records(name, split, **kwargs)], limit, seed)
        return to_dataset([self._row(r) for r in records], f"{self.name} {'+'.join(names)} [{split}]")

    def _row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        question = str(first_field(record, self.question_fields))
        if record.get(self.answer_field) is not None:
            answer = normalize_gold(record[self.answer_field])
        else:
            solution = record.get(self.solution_field)
            answer = last_boxed(str(solution)) if solution is not None else None
            if answer is None:
                get_field(record, self.answer_field)  # raises, naming the file and the field
        subset = str(record[self.subset_field]) if self.subset_field else _source_label(record)
        return {
            "prompt": make_prompt(f"{question}\n{INSTRUCTION}", self.prompt_style),
            "subset": subset,
            "question": question,
            "answer": answer,
            "reference": f"The final answer is $\\boxed{{{answer}}}$.",
        }

    def score(self, completion: str, example: Mapping[str, Any]) -> Score:
        return self.score_batch([completion], [example])[0]

    def score_batch(
        self, completions: Sequence[Completion], examples: Sequence[Mapping[str, Any]]
    ) -> list[Score]:
        golds = [str(example["answer"]) for example in examples]
        # extraction happens in the worker too, inside the time limit; one batch for the worker pool
        pairs = [(gold, completion_text(c)) for gold, c in zip(golds, completions, strict=True)]
        verdicts = self.verifier.judge_many(pairs, self.max_answer_chars)
        return [_math_score(v, self.max_answer_chars, gold) for v, gold in zip(verdicts, golds)]


class GSM8KTask(MathTask):
    """GSM8K: ``question`` and a worked ``answer`` ending in ``#### N`` (jsonl, or the hub's openai/gsm8k).

    Options as for `math`, minus the field names. ``load(split="test")`` with no source reads the
    shipped GSM8K test set (1319 problems); for training data pass a source such as ``openai/gsm8k``.
    """

    name = "gsm8k"
    shipped = ("gsm8k",)

    def __init__(
        self,
        prompt_style: str = "chat",
        timeout_s: float = 2.0,
        timeout_mode: str = "process",
        workers: int = 1,
        max_answer_chars: int = 256,
    ):
        super().__init__(
            prompt_style=prompt_style,
            timeout_s=timeout_s,
            timeout_mode=timeout_mode,
            workers=workers,
            max_answer_chars=max_answer_chars,
        )

    def _row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        question, worked = str(get_field(record, "question")), str(get_field(record, "answer"))
        answer = gsm8k_answer(worked)
        if answer is None:
            raise TaskDataError(f"{record.get(ORIGIN)}: field 'answer' has no '#### <number>' line")
        steps = _CALCULATOR.sub("", worked.rsplit("####", 1)[0]).strip()
        return {
            "prompt": make_prompt(f"{question}\n{INSTRUCTION}", self.prompt_style),
            "subset": "gsm8k",
            "question": question,
            "answer": answer,
            "reference": f"{steps}\nThe final answer is $\\boxed{{{answer}}}$.",
        }


def _math_score(verdict: Verdict, max_chars: int, gold: str) -> Score:
    # "format": the answer sits in a \boxed{} as the prompt asks (evaluation reports it as format compliance)
    answer = verdict.answer
    components = {"format": float(verdict.how == "boxed"), "answer_found": float(bool(answer))}
    if verdict.status != "ok":  # a timeout leaves the answer unknown
        return Score(0.0, components, f"math-verify {verdict.status}: {verdict.detail}".strip())
    if not answer:
        return Score(0.0, components, "no final answer found (no \\boxed{}, #### or 'answer is')")
    if len(answer) > max_chars:
        return Score(0.0, components, f"final answer longer than {max_chars} characters")
    if not verdict.equal:
        return Score(0.0, components, f"answer {answer[:80]!r} does not match {gold!r}")
    return Score(1.0, components, "", correct=True)


def _source_label(record: Mapping[str, Any]) -> str:
    """``aime24`` for a record of ``.../aime24.jsonl:3``; ``gsm8k`` for ``openai/gsm8k[test]:3``."""
    origin = str(record.get(ORIGIN, "math"))
    location = re.sub(r"(\[[^\]]*\])?:\d+$", "", origin)
    return Path(location).stem or "math"
