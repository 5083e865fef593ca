"""``rlad sft-distill``: rejection sampling of teacher outputs, then TRL SFT of the student."""

from __future__ import annotations

import json
import shutil

import yaml
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
        .startswith("rlad sft-distill: error: no accepted samples: none of the 12")
    )  # 6 prompts (the RL budget: 3 steps x 8 completions / 4 per prompt) x 2 samples
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["sft/teacher_samples"] == 12 and record["sft/accepted"] == 0


def _stand_in_teacher(calls: dict):
    """A teacher whose first sample per prompt is the reference scratchpad, the rest wrong."""

    def fake_teacher(teacher, prompts, n, **sampling):
        calls.update(n=n, teacher=teacher, **sampling)
        groups = []
        for prompt in prompts:
            numbers = [int(x) for x in prompt.rstrip("=").replace("-", "+").split("+")]
            ops = [c for c in prompt if c in "+-"]
            assert prompt_of(numbers, ops) == prompt
            groups.append([scratchpad(numbers, ops)[0]] + ["A:999"] * (n - 1))
        return groups

    return fake_teacher


def test_sft_distill_trains_on_accepted_samples(rlad_cli, recipe_file, tmp_path, monkeypatch):
    calls = {}
    monkeypatch.setattr(sft, "sample_teacher", _stand_in_teacher(calls))
    code, out, err = rlad_cli("sft-distill", recipe_file(), "--samples-per-prompt", 3, "temperature=0.7")
    assert code == 0, err
    # 6 prompts of the 16: the RL budget (3 steps x 8 completions / 4 per prompt)
    assert "6/18 teacher samples accepted (33.3%), 6 distinct kept, 6/6 prompts solved" in out
    assert calls["n"] == 3 and calls["temperature"] == 0.7 and calls["max_new_tokens"] == 24
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["sft/accepted"] == 6
    assert max(r["step"] for r in records if "loss" in r) == 3
    assert [r["step"] for r in records if "eval/mean_at_k" in r] == [2, 3]
    assert len((run / "sft_data.jsonl").read_text().splitlines()) == 6
    AutoModelForCausalLM.from_pretrained(run / "final")


def test_sft_distill_trains_the_recipes_lora_adapter_like_the_rl_methods(
    rlad_cli, recipe_file, tiny_models, tmp_path, monkeypatch
):
    """A recipe's ``lora:`` block applies to SFT too: the same adapter, not a full fine-tune."""
    from peft import PeftModel
    from safetensors.torch import load_file

    path = recipe_file()
    recipe = yaml.safe_load(path.read_text())
    recipe.update(eval_every=0, lora={"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]})
    path.write_text(yaml.safe_dump(recipe))
    monkeypatch.setattr(sft, "sample_teacher", _stand_in_teacher({}))
    code, _, err = rlad_cli("sft-distill", path, "--samples-per-prompt", 2)
    assert code == 0, err
    final = tmp_path / "run" / "final"
    assert (final / "adapter_config.json").is_file() and not (final / "model.safetensors").exists()
    weights = load_file(final / "adapter_model.safetensors")
    assert weights and all("lora_" in name for name in weights)
    assert any(bool(w.abs().sum() > 0) for name, w in weights.items() if "lora_B" in name)  # B starts at 0
    base = AutoModelForCausalLM.from_pretrained(tiny_models[0])
    assert isinstance(PeftModel.from_pretrained(base, str(final)), PeftModel)


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
    assert "12/12 teacher samples accepted" in out  # the saved samples of the first run (6 prompts x 2)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "sft/accepted" in r] == [0]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]  # step 3 once, from the resumed run


def test_sft_samples_the_teacher_on_as_many_prompts_as_the_rl_budget_draws(
    rlad_cli, recipe_file, monkeypatch
):
    """max_steps x completions per step / completions per prompt: 2 x 8 / 4 = 4 prompts of the 16."""
    seen = []

    def solving_teacher(teacher, prompts, n, **sampling):
        seen.append(list(prompts))
        return [[scratchpad(*_operands(p))[0]] * n for p in prompts]

    monkeypatch.setattr(sft, "sample_teacher", solving_teacher)
    args = ("max_steps=2", "per_device_train_batch_size=8", "num_generations=4", "overwrite_output_dir=true")
    code, out, err = rlad_cli("sft-distill", recipe_file(), "--samples-per-prompt", 2, *args)
    assert code == 0, err
    assert len(seen[0]) == len(set(seen[0])) == 4 and "4/4 prompts solved" in out
    assert sft.rl_prompt_budget(2, 8, 1, 4) == 4 and sft.rl_prompt_budget(0, 8, 1, 4) is None
    assert sft.rl_prompt_budget(3, 6, 2, 4, world_size=2) == 18  # ceil(3 * 6 * 2 * 2 / 4)


def _operands(prompt):
    numbers = [int(x) for x in prompt.rstrip("=").replace("-", "+").split("+")]
    return numbers, [c for c in prompt if c in "+-"]
