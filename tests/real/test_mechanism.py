"""The mechanism report: exact values of the pure statistics, and the sampling path on the toy pair."""

import json
import math
from pathlib import Path

import pytest
import torch

from rlad.mechanism import mechanism_stats

CHECKPOINTS = Path(__file__).resolve().parents[2] / "rlad" / "demo" / "checkpoints"
DEMO_OPTIONS = {
    "min_operands": 2,
    "max_operands": 3,
    "max_digits": 1,
    "ood_max_operands": 4,
    "ood_max_digits": 1,
}


def test_stats_by_hand():
    report = mechanism_stats(
        student_logp=torch.tensor([[-1.0, -1.0], [-1.0, -1.0]]),
        teacher_logp=torch.tensor([[-3.0, -1.0], [-1.0, -1.0]]),
        mask=torch.ones(2, 2),
        rewards=torch.tensor([1.0, 0.0]),
        correct=torch.tensor([True, False]),
        teacher_argmax=torch.tensor([[False, True], [True, True]]),
        group_size=2,
    )
    # gaps 2, 0, 0, 0; row 0 has A > 0 and its first token's ratio exp(0.5 * 1) > 1.28: vetoed.
    assert report.log_ratio_mean == 0.5 and report.beyond_clamp == 0.25
    assert report.positive_tokens == 2 and report.veto_share == 0.5
    assert (report.num_correct, report.accuracy) == (1, 0.5)
    assert report.agreed_share == 0.0  # teacher mean log-prob -2 < log 0.5
    assert report.unvetoed_share == 0.0 and report.argmax_match == 0.5
    assert report.log_ratio_histogram["[2.0, 4.0)"] == 1 and report.log_ratio_histogram["[0.0, 0.5)"] == 3


def test_stats_respect_mask_threshold_and_no_correct():
    report = mechanism_stats(
        student_logp=torch.tensor([[-1.0, -9.0], [-1.0, -1.0]]),
        teacher_logp=torch.tensor([[-0.5, 0.0], [-1.0, -1.0]]),
        mask=torch.tensor([[1, 0], [1, 1]]),
        rewards=torch.tensor([0.0, 0.0]),
        correct=torch.tensor([False, False]),
        teacher_argmax=torch.ones(2, 2, dtype=torch.bool),
        group_size=2,
        agree_logp=math.log(0.9),
    )
    assert report.num_tokens == 3 and report.log_ratio_mean == pytest.approx(-0.5 / 3)
    assert report.beyond_clamp == 0.0 and report.positive_tokens == 0 and report.veto_share == 0.0
    assert report.agreed_share is None and "n/a" in report.table()
    with pytest.raises(ValueError, match="groups of 3"):
        mechanism_stats(
            student_logp=torch.zeros(2, 1), teacher_logp=torch.zeros(2, 1), mask=torch.ones(2, 1),
            rewards=torch.zeros(2), correct=torch.zeros(2, dtype=torch.bool),
            teacher_argmax=torch.ones(2, 1, dtype=torch.bool), group_size=3,
        )  # fmt: skip


@pytest.fixture(scope="module")
def toy_models():
    from rlad.run.models import load_model

    student, tokenizer, _ = load_model(str(CHECKPOINTS / "student"), dtype="float32")
    teacher, _, _ = load_model(str(CHECKPOINTS / "teacher"), dtype="float32")
    return student, teacher, tokenizer


def _rollouts(student, teacher, tokenizer, n=6, k=4):
    from rlad.mechanism import rollout_tensors
    from rlad.tasks import get_task

    task = get_task("arithmetic", **DEMO_OPTIONS)
    rows = [dict(r) for r in task.load(split="train", limit=n)]
    return rows, rollout_tensors(student, teacher, tokenizer, task, rows, k=k, max_new_tokens=24)


def test_identical_models_give_zero_ratio(toy_models):
    student, _, tokenizer = toy_models
    _, t = _rollouts(student, student, tokenizer)
    assert torch.equal(t["student"], t["teacher"])
    report = mechanism_stats(
        student_logp=t["student"], teacher_logp=t["teacher"], mask=t["mask"], rewards=t["rewards"],
        correct=t["correct"], teacher_argmax=t["argmax"], group_size=4,
    )  # fmt: skip
    assert report.log_ratio_mean == 0.0 and set(report.log_ratio_quantiles.values()) == {0.0}
    assert report.beyond_clamp == 0.0 and report.veto_share == 0.0
    assert report.unvetoed_share in (None, 1.0)


def test_teacher_logprobs_match_the_trainer_scorer(toy_models):
    """The report's teacher log-probs are the ones TRRD would use (LocalTeacher.score)."""
    from rlad.eval.generation import encode_prompt
    from rlad.teacher.local import LocalTeacher

    student, teacher, tokenizer = toy_models
    rows, t = _rollouts(student, teacher, tokenizer, n=2, k=2)
    scorer = LocalTeacher(teacher, tokenizer)
    for i, row in enumerate(rows):
        prompt = torch.tensor([encode_prompt(tokenizer, row["prompt"])] * 2)  # (2, P)
        group = slice(2 * i, 2 * i + 2)
        logp = scorer.score(
            prompt, torch.ones_like(prompt), t["ids"][group], t["mask"][group].long()
        )  # (2, T)
        mask = t["mask"][group]
        assert mask.any()
        torch.testing.assert_close(logp[mask], t["teacher"][group][mask], rtol=1e-5, atol=1e-5)


def test_toy_pair_report(toy_models, tmp_path, capsys):
    from rlad.cli.main import main

    out = tmp_path / "report.json"
    args = ["diagnose", "--student", str(CHECKPOINTS / "student"), "--teacher", str(CHECKPOINTS / "teacher")]
    args += ["--task", "arithmetic", "--n", "8", "--k", "4", "--max-new-tokens", "24", "--output", str(out)]
    args += [f"--task-option={k}={v}" for k, v in DEMO_OPTIONS.items()]
    assert main(args) == 0
    assert "Loading weights" not in capsys.readouterr().err  # the report alone, no library bars
    report = json.loads(out.read_text())
    assert (
        report["num_rollouts"] == 32 and sum(report["log_ratio_histogram"].values()) == report["num_tokens"]
    )
    q = list(report["log_ratio_quantiles"].values())
    assert q == sorted(q)
    # The demo pair shares a trajectory (the student is an early checkpoint of the teacher's run): its
    # tokens sit close to the teacher's, so few positive tokens are vetoed. The pair it replaced, trained
    # apart, measured mean 4.8 nats, 30% beyond the clamp and a 25% veto share on this same report.
    assert (
        0.0 < report["log_ratio_mean"] < 2.0 and report["beyond_clamp"] < 0.25 and report["veto_share"] < 0.1
    )


def test_bad_arguments_exit_2(capsys):
    from rlad.cli.main import main

    assert main(["diagnose", "--student", "a", "--teacher", "b", "--task", "sums", "--n", "0"]) == 2
    assert "--n must be >= 1" in capsys.readouterr().err
