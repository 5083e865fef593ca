"""``rlad eval`` on a tiny saved model: JSON + Markdown output, and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from rlad.eval import EvalReport


def test_eval_writes_json_and_markdown(rlad_cli, tiny_models, tmp_path):
    student, teacher = tiny_models
    out = tmp_path / "eval"
    code, stdout, stderr = rlad_cli(
        "eval", student, "--task", "arithmetic",
        "--task-option", "max_operands=3", "--task-option", "max_digits=1",
        "--limit", 4, "--k", 2, "--n", 3, "--max-new-tokens", 12,
        "--teacher", teacher, "--ood-subsets", "ops3", "--out", out,
    )  # fmt: skip
    assert code == 0 and "Loading weights" not in stderr  # our progress bar, not the libraries'
    data = json.loads((out / "eval.json").read_text())
    assert len(data["problems"]) == 4
    assert all(len(p["samples"]) == 3 and p["greedy"] is not None for p in data["problems"])
    sample = data["problems"][0]["samples"][0]
    assert {"completion", "correct", "reward", "components"} <= set(sample)
    assert data["config"]["k"] == 2 and data["config"]["n"] == 3 and data["config"]["teacher"] is True
    report = EvalReport.from_json(out / "eval.json")
    assert set(report.subsets) == {"ops2", "ops3"} and "out_of_distribution" in report.groups
    markdown = (out / "eval.md").read_text()
    assert "| ops2 |" in markdown and "Mean@2" in markdown and "teacher log-prob" in markdown
    assert markdown.strip() in stdout


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--task", "nosuch"], "unknown task 'nosuch'; valid names:"),
        (["--task", "arithmetic", "--task-option", "max_digit=1"], "has no option(s) ['max_digit']"),
        (
            ["--task", "arithmetic", "--task-option", "oops"],
            "--task-option: override 'oops' is not key=value",
        ),
        (
            ["--task", "arithmetic", "--task-option", "max_operands=abc"],
            "bad --task-option for task 'arithmetic'",
        ),
        (["--task", "arithmetic", "--split", "dev"], "unknown split 'dev'"),
        (["--task", "arithmetic", "--k", 4, "--n", 2], "--n must be >= --k"),
        (["--task", "arithmetic", "--top-p", 0], "--top-p must be in (0, 1]"),
        (
            ["--task", "arithmetic", "--ood-subsets", "ops9"],
            "--ood-subsets ops9 not in the data; subsets present",
        ),
        (
            ["--task", "arithmetic", "--limit", 2, "--teacher", "./no/teacher"],
            "--teacher model path './no/teacher' does not exist",
        ),
    ],
)
def test_eval_bad_input_is_one_line(rlad_cli, tiny_models, extra, message):
    code, _, err = rlad_cli("eval", tiny_models[0], *extra)
    assert code == 2
    assert err.strip().splitlines() == [err.strip()] and "Traceback" not in err
    assert err.startswith("rlad eval: error: ") and message in err


def test_eval_missing_model_path(rlad_cli, tmp_path):
    code, _, err = rlad_cli("eval", tmp_path / "no" / "model", "--task", "arithmetic")
    assert code == 2 and "Traceback" not in err
    assert err.strip() == f"rlad eval: error: model path '{tmp_path / 'no' / 'model'}' does not exist"


def test_eval_requires_a_task(rlad_cli, tiny_models):
    code, _, err = rlad_cli("eval", tiny_models[0])  # argparse's error, as one line
    assert code == 2
    assert err == "rlad eval: error: the following arguments are required: --task; see rlad eval --help\n"
