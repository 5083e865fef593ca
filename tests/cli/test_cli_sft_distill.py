"""``rlad sft-distill``: rejection sampling of teacher outputs, then TRL SFT of the student."""

from __future__ import annotations

import json
import shutil

from transformers import AutoModelForCausalLM

import rlad.run.sft_distill as sft
from rlad.tasks import get_task
from rlad.tasks.arithmetic import prompt_of, scratchpad


def test_rejection_sample_counts_and_dedupes():
    task = get_task("arithmetic")
    rows = [
        {"prompt": "1+2=", "answer": 3, "subset": "ops2"},
        {"prompt": [{"role": "user", "content": "5-9="}], "answer": -4, "subset": "ops2"},
        {"prompt": "1+2+3=", "answer": 6, "subset": "ops3"},
    ]
    completions = [
        ["1+2=3;A:3", "1+2=3;A:3", "A:4", "1+2=3;A:3 "],  # 3 correct, 2 distinct texts
        ["5-9=-4;A:-4", "", "A:-5", "A:-4"],  # 2 correct
        ["A:5", "no", "A:7", "A:60"],  # none
    ]
    pairs, stats = sft.rejection_sample(task, rows, completions)
    assert (stats.prompts, stats.samples, stats.accepted, stats.prompts_solved) == (3, 12, 5, 2)
    assert stats.kept == len(pairs) == 4
    assert stats.rate == 5 / 12
    assert stats.by_subset == {"ops2": {"samples": 8, "accepted": 5}, "ops3": {"samples": 4, "accepted": 0}}
    assert pairs[0] == {"prompt": "1+2=", "completion": "1+2=3;A:3"}
    assert pairs[2]["completion"] == [{"role": "assistant", "content": "5-9=-4;A:-4"}]  # chat in, chat out
    assert "5/12 teacher samples accepted" in stats.summary()


def test_sft_config_carries_the_recipe_budget():
    from rlad.trainer import RLADConfig

    recipe_config = {"max_steps": 7, "learning_rate": 3e-4, "per_device_train_batch_size": 4, "seed": 5,
                     "output_dir": "x", "save_steps": 3, "warmup_steps": 2, "report_to": "none",
                     "num_generations": 4, "loss": "grpo"}  # fmt: skip
    config = sft.sft_config_from(recipe_config, RLADConfig(**recipe_config))
    assert (config.max_steps, config.learning_rate, config.per_device_train_batch_size, config.seed) == (
        7, 3e-4, 4, 5,
    )  # fmt: skip
    assert config.save_steps == 3 and config.warmup_steps == 2 and config.output_dir == "x"
    assert config.completion_only_loss is True


def test_no_accepted_samples_is_a_clear_error(rlad_cli, recipe_file, tmp_path):
    """The random tiny teacher solves nothing: exit 2 with the counts, and the counts are logged."""
    code, _, err = rlad_cli("sft-distill", recipe_file(), "--samples-per-prompt", 2, "train_limit=8")
    assert code == 2 and "Traceback" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("rlad sft-distill: error: no accepted samples: none of the 16")
    )
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["sft/teacher_samples"] == 16 and record["sft/accepted"] == 0


def test_sft_distill_trains_on_accepted_samples(rlad_cli, recipe_file, tmp_path, monkeypatch):
    """A stand-in teacher whose first sample per prompt is the reference scratchpad, the rest wrong."""
    calls = {}

    def fake_teacher(teacher, prompts, n, **sampling):
        calls.update(n=n, teacher=teacher, **sampling)
        groups = []
        for prompt in prompts:
            numbers = [int(x) for x in prompt.rstrip("=").replace("-", "+").split("+")]
            ops = [c for c in prompt if c in "+-"]
            assert prompt_of(numbers, ops) == prompt
            groups.append([scratchpad(numbers, ops)[0]] + ["A:999"] * (n - 1))
        return groups

    monkeypatch.setattr(sft, "sample_teacher", fake_teacher)
    code, out, err = rlad_cli("sft-distill", recipe_file(), "--samples-per-prompt", 3, "temperature=0.7")
    assert code == 0, err
    assert "16/48 teacher samples accepted (33.3%), 16 distinct kept, 16/16 prompts solved" in out
    assert calls["n"] == 3 and calls["temperature"] == 0.7 and calls["max_new_tokens"] == 24
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["sft/accepted"] == 16
    assert max(r["step"] for r in records if "loss" in r) == 3
    assert [r["step"] for r in records if "eval/mean_at_k" in r] == [2, 3]
    assert len((run / "sft_data.jsonl").read_text().splitlines()) == 16
    AutoModelForCausalLM.from_pretrained(run / "final")


def test_sft_distill_refuses_a_used_folder_and_resumes_without_resampling(
    rlad_cli, recipe_file, tmp_path, monkeypatch
):
    def solving_teacher(teacher, prompts, n, **sampling):
        groups = []
        for prompt in prompts:
            numbers = [int(x) for x in prompt.rstrip("=").replace("-", "+").split("+")]
            groups.append([scratchpad(numbers, [c for c in prompt if c in "+-"])[0]] * n)
        return groups

    monkeypatch.setattr(sft, "sample_teacher", solving_teacher)
    path, run = recipe_file(), tmp_path / "run"
    assert rlad_cli("sft-distill", path, "--samples-per-prompt", 2)[0] == 0
    code, _, err = rlad_cli("sft-distill", path, "--samples-per-prompt", 2)
    assert code == 2 and "already holds a run" in err and len(err.strip().splitlines()) == 1

    shutil.rmtree(run / "checkpoint-3")  # killed after logging step 3, before its checkpoint was saved

    def no_teacher(*args, **kwargs):
        raise AssertionError("a resumed run reuses the saved teacher samples")

    monkeypatch.setattr(sft, "sample_teacher", no_teacher)
    code, out, err = rlad_cli("sft-distill", path, "--samples-per-prompt", 2, "max_steps=4", "--resume")
    assert code == 0, err
    assert "16/32 teacher samples accepted" not in out and "32/32 teacher samples accepted" in out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "sft/accepted" in r] == [0]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]  # step 3 once, from the resumed run
