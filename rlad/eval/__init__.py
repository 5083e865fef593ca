"""Evaluation of students and teachers (docs/method.md section 7): Mean@k, Pass@k, per-subset tables, teacher agreement.

- :mod:`rlad.eval.metrics`: pure metric functions (Pass@k estimator, Mean@k, teacher-gap closed, ...);
- :mod:`rlad.eval.generation`: the :class:`GenerationBackend` interface, :class:`HFBackend`, :class:`VLLMBackend`;
- :mod:`rlad.eval.teacher_agreement`: the teacher's mean log-prob of the student's completions;
- :mod:`rlad.eval.evaluate`: :func:`evaluate`, which wires the above into an :class:`EvalReport`;
- :mod:`rlad.eval.report`: the report records, JSON / Markdown output and :func:`compare_reports`.
"""

from rlad.eval.evaluate import evaluate
from rlad.eval.generation import (
    GenerationBackend,
    HFBackend,
    VLLMBackend,
    completions_from_vllm,
    encode_prompt,
)
from rlad.eval.metrics import (
    SubsetMetrics,
    mean_at_k,
    mean_pass_at_k,
    pass_at_k,
    summarize,
    teacher_gap_closed,
)
from rlad.eval.report import EvalReport, ProblemRecord, SampleRecord, build_report, compare_reports
from rlad.eval.teacher_agreement import teacher_agreement

__all__ = [
    "EvalReport",
    "GenerationBackend",
    "HFBackend",
    "ProblemRecord",
    "SampleRecord",
    "SubsetMetrics",
    "VLLMBackend",
    "build_report",
    "compare_reports",
    "completions_from_vllm",
    "encode_prompt",
    "evaluate",
    "mean_at_k",
    "mean_pass_at_k",
    "pass_at_k",
    "summarize",
    "teacher_agreement",
    "teacher_gap_closed",
]
