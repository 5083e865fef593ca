"""evaluate() end to end: exact numbers with a scripted backend, then a tiny model with a teacher."""

import json
from dataclasses import dataclass, field

import pytest

from rlad.eval import HFBackend, evaluate
from rlad.eval.report import EvalReport, ProblemRecord, SampleRecord, build_report, compare_reports
from rlad.tasks.arithmetic import ArithmeticTask


@dataclass(frozen=True)
class Score:
    """The shape of ``rlad.tasks.base.Score`` (evaluate only reads these attributes)."""

    reward: float
    components: dict = field(default_factory=dict)
    reason: str = ""
    correct: bool = False


ROWS = [
    {"prompt": "p0", "subset": "ppl2", "answer": "A:1"},
    {"prompt": "p1", "subset": "ppl2", "answer": "A:2"},
    {"prompt": "p2", "subset": "ppl10", "answer": "A:3"},
    {"prompt": "p3", "subset": "ppl3", "answer": "A:4"},
]
SAMPLED = {
    "p0": ["A:1", "A:0", "x", "A:0"],  # c=1 of 4: Mean 0.25, Pass@2 = 1 - C(3,2)/C(4,2) = 0.5, format 3/4
    "p1": ["A:2", "A:2", "A:2", "A:2"],  # c=4: Mean 1, Pass@2 1, format 4/4
    "p2": ["x", "y", "z", "w"],  # c=0: Mean 0, Pass@2 0, format 0/4
    "p3": ["A:4", "x", "A:4", "x"],  # c=2: Mean 0.5, Pass@2 = 1 - C(2,2)/C(4,2) = 5/6, format 2/4
}
GREEDY = {"p0": "A:1", "p1": "A:0", "p2": "A:3", "p3": "x"}  # right, wrong, right, wrong


class ScriptedBackend:
    """Returns fixed completions; records its calls."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, n, max_new_tokens, temperature, top_p, seed):
        self.calls.append({"n": n, "temperature": temperature, "top_p": top_p, "seed": seed})
        if temperature == 0:
            return [[GREEDY[p]] * n for p in prompts]
        return [SAMPLED[p][:n] for p in prompts]


class AnswerTask:
    """Correct when the completion is the answer; format when it starts with ``A:``."""

    name = "answer"

    def score(self, completion, example):
        correct = completion == example["answer"]
        fmt = completion.startswith("A:")
        return Score(reward=float(correct) + 0.1 * fmt, components={"format": float(fmt)}, correct=correct)


def test_scripted_numbers_per_subset_group_and_overall():
    backend = ScriptedBackend()
    report = evaluate(backend, AnswerTask(), ROWS, k=2, n=4, max_new_tokens=7, seed=5, ood_subsets={"ppl10"})
    assert backend.calls == [
        {"n": 4, "temperature": 0.6, "top_p": 0.95, "seed": 5},
        {"n": 1, "temperature": 0.0, "top_p": 0.95, "seed": 5},
    ]
    assert list(report.subsets) == ["ppl2", "ppl3", "ppl10"]  # natural order

    ppl2 = report.subsets["ppl2"]
    assert (ppl2.num_problems, ppl2.num_samples, ppl2.k) == (2, 8, 2)
    assert ppl2.mean_at_k == pytest.approx((0.25 + 1.0) / 2)
    assert ppl2.pass_at_k == pytest.approx((0.5 + 1.0) / 2)
    assert ppl2.greedy_accuracy == 0.5
    assert ppl2.format_rate == pytest.approx(7 / 8)
    assert ppl2.teacher_logprob is None
    assert report.subsets["ppl3"].pass_at_k == pytest.approx(5 / 6)
    assert report.subsets["ppl10"].greedy_accuracy == 1.0

    overall = report.overall
    assert overall.mean_at_k == pytest.approx((0.25 + 1 + 0 + 0.5) / 4)
    assert overall.pass_at_k == pytest.approx((0.5 + 1 + 0 + 5 / 6) / 4)
    assert overall.greedy_accuracy == 0.5
    assert overall.format_rate == pytest.approx(9 / 16)
    assert overall.mean_reward == pytest.approx((7 + 0.9) / 16)

    assert report.groups["in_distribution"].mean_at_k == pytest.approx((0.25 + 1 + 0.5) / 3)
    assert report.groups["out_of_distribution"].mean_at_k == 0.0
    assert report.config["ood_subsets"] == ["ppl10"]

    sample = report.problems[0].samples[1]
    assert (sample.completion, sample.correct, sample.format_ok, sample.reward) == ("A:0", False, True, 0.1)
    assert report.problems[1].greedy.completion == "A:0"


def test_ood_as_a_predicate_and_typos_rejected():
    report = evaluate(
        ScriptedBackend(), AnswerTask(), ROWS, k=2, greedy=False, ood_subsets=lambda s: s == "ppl3"
    )
    assert report.groups["out_of_distribution"].num_problems == 1
    assert report.overall.greedy_accuracy is None
    with pytest.raises(
        ValueError, match=r"\['ppl9'\] do not occur in the data; subsets present: ppl2, ppl3, ppl10"
    ):
        evaluate(ScriptedBackend(), AnswerTask(), ROWS, k=2, ood_subsets={"ppl9"})


def test_invalid_k_n_and_backend_shape():
    with pytest.raises(ValueError, match="k=4, n=2"):
        evaluate(ScriptedBackend(), AnswerTask(), ROWS, k=4, n=2)

    class Short(ScriptedBackend):
        def generate(self, prompts, n, **kwargs):
            return [["A:1"] * (n - 1) for _ in prompts]

    with pytest.raises(ValueError, match="expected 4 of 3"):
        evaluate(Short(), AnswerTask(), ROWS, k=3)


def test_json_round_trip_and_markdown(tmp_path):
    report = evaluate(ScriptedBackend(), AnswerTask(), ROWS, k=2, n=4, ood_subsets={"ppl10"}, name="student")
    path = tmp_path / "eval.json"
    report.to_json(path)
    data = json.loads(path.read_text())
    assert len(data["problems"]) == 4 and len(data["problems"][0]["samples"]) == 4
    assert data["problems"][2]["example"] == ROWS[2]
    assert EvalReport.from_json(path) == report

    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0] == "### Evaluation: student"
    header = next(line for line in lines if line.startswith("| subset"))
    assert header == "| subset | problems | Mean@2 | Pass@2 | mean reward | greedy acc | format |"
    labels = [line.split("|")[1].strip() for line in lines if line.startswith("| ") and line != header][1:]
    assert labels == ["ppl2", "ppl3", "ppl10", "in-distribution", "out-of-distribution", "all"]
    # ppl2 mean reward: (1.1 + 0.1 + 0 + 0.1 + 4 * 1.1) / 8 = 0.7125
    assert "| ppl2 | 2 | 0.625 | 0.750 | 0.713 | 0.500 | 0.875 |" in lines


def _report(name, correct_per_problem, subsets, k=2, ood=("ood",)):
    problems = [
        ProblemRecord(
            index=i,
            subset=subset,
            example={},
            samples=[SampleRecord(completion="", reward=float(c), correct=bool(c)) for c in row],
        )
        for i, (row, subset) in enumerate(zip(correct_per_problem, subsets))
    ]
    return build_report(
        name, {"n": len(correct_per_problem[0])}, problems, k=k, ood_subsets=set(ood) & set(subsets)
    )


def test_compare_reports_teacher_gap_closed():
    subsets = ["ppl2", "ppl3", "ood"]
    reports = {
        "student_before": _report("b", [[1, 0], [0, 0], [0, 0]], subsets),  # Mean 1/6
        "grpo": _report("g", [[1, 1], [1, 0], [0, 0]], subsets),  # Mean 1/2
        "rlad": _report("r", [[1, 1], [1, 1], [1, 0]], subsets),  # Mean 5/6
        "teacher": _report("t", [[1, 1], [1, 1], [1, 1]], subsets),  # Mean 1
    }
    md = compare_reports(reports)
    lines = md.splitlines()
    assert lines[0] == "| metric | student_before | grpo | rlad | teacher |"
    assert "| **Mean@2 all** | 0.167 | 0.500 | 0.833 | 1.000 |" in lines
    # gap closed = (run - before) / (teacher - before): grpo (1/2 - 1/6) / (5/6) = 0.4, rlad 0.8
    assert "| teacher-gap closed all | - | 0.400 | 0.800 | - |" in lines
    # out of distribution: before 0, grpo 0, rlad 0.5, teacher 1
    assert "| teacher-gap closed out-of-distribution | - | 0.000 | 0.500 | - |" in lines
    assert "| Mean@2 ppl3 | 0.000 | 0.500 | 1.000 | 1.000 |" in lines
    assert "Teacher-gap closed = (run - student_before) / (teacher - student_before) on Mean@2." in lines


def test_compare_reports_degenerate_gap_and_notes():
    subsets = ["ppl2", "ppl2"]
    reports = {
        "before": _report("b", [[1, 1], [1, 0]], subsets),
        "after": _report("a", [[1, 1], [1, 1]], subsets),
        "teacher": _report("t", [[1, 0], [1, 0]], subsets),  # behind the student: no gap to close
        "k1": _report("k", [[1, 1], [0, 0]], subsets, k=1),
    }
    lines = compare_reports(reports).splitlines()
    assert "| teacher-gap closed all | - | n/a | - | n/a |" in lines
    assert any(line.startswith("Note: the runs differ in k:") for line in lines)
    no_teacher = compare_reports({"a": reports["before"], "b": reports["after"]})
    assert "teacher-gap" not in no_teacher
    with pytest.raises(ValueError, match="baseline 'x' is not one of the reports"):
        compare_reports(reports, baseline="x")


class ToyArithmetic:
    """The arithmetic task with half of its prompts as chat messages (``opsN`` subsets, a ``format`` component)."""

    name = "toy_arith"

    def __init__(self):
        self.task = ArithmeticTask(min_operands=2, max_operands=4)

    def rows(self, count, seed):
        rows = [dict(r) for r in self.task.load(split="test", limit=count, seed=seed)]
        return [
            {**r, "prompt": [{"role": "user", "content": r["prompt"]}] if i % 2 else r["prompt"]}
            for i, r in enumerate(rows)
        ]

    def score(self, completion, example):
        return self.task.score(completion, example)


def test_tiny_model_arithmetic_with_teacher(peaky_student, teacher_model, tokenizer, tmp_path):
    task = ToyArithmetic()
    rows = task.rows(6, seed=0)
    backend = HFBackend(peaky_student, tokenizer, batch_size=8, show_progress=False)
    report = evaluate(
        backend,
        task,
        rows,
        k=2,
        n=3,
        max_new_tokens=10,
        temperature=1.0,
        teacher=(teacher_model, tokenizer),
        ood_subsets={"ops4"},
        name="tiny",
        show_progress=False,
    )
    assert report.overall.num_problems == 6 and report.overall.num_samples == 18
    assert set(report.groups) == {"in_distribution", "out_of_distribution"}
    assert report.overall.format_rate is not None  # the task scores the format
    samples = [s for p in report.problems for s in p.samples]
    assert all((s.teacher_logprob is None) == (s.completion == "") for s in samples)
    assert report.overall.teacher_logprob < 0

    # greedy samples are what the backend decodes at temperature 0
    greedy = backend.generate(
        [r["prompt"] for r in rows], n=1, max_new_tokens=10, temperature=0, top_p=1, seed=0
    )
    assert [p.greedy.completion for p in report.problems] == [g[0] for g in greedy]

    report.to_json(tmp_path / "tiny.json")
    assert EvalReport.from_json(tmp_path / "tiny.json").overall == report.overall
    md = report.to_markdown()
    assert "teacher log-prob" in md and "| all | 6 |" in md
    table = compare_reports({"student_before": report, "teacher": report})
    assert "teacher-gap closed all" in table


def test_with_a_registered_task_and_its_reference_completions():
    from rlad.tasks import get_task  # imported here: only this test depends on the task library

    task = get_task("arithmetic", prompt_style="chat")
    rows = list(task.load(split="test", limit=4)) + list(task.load(split="ood", limit=2))

    class ReferenceBackend:
        """Answers every prompt with the row's reference completion, or with garbage at temperature 0."""

        def generate(self, prompts, n, max_new_tokens, temperature, top_p, seed):
            refs = [next(r["reference"] for r in rows if r["prompt"] == p) for p in prompts]
            return [[ref] * n if temperature > 0 else ["A:?"] * n for ref in refs]

    report = evaluate(ReferenceBackend(), task, rows, k=2, ood_subsets=lambda s: s.startswith("ood_"))
    assert report.overall.mean_at_k == 1.0 and report.overall.format_rate == 1.0
    assert report.overall.greedy_accuracy == 0.0
    assert report.groups["out_of_distribution"].num_problems == 2
