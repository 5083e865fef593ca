"""Pin RLADTrainer to TRL: loss="grpo" and loss="trrd" with alpha = 1 reproduce TRL's GRPOTrainer."""

import pytest
import torch
from trainer_helpers import COMMON, addition_dataset, digit_fraction
from trl import GRPOConfig, GRPOTrainer

from rlad.toy.models import build_tiny_llama
from rlad.trainer import RLADConfig, RLADTrainer

VARIANTS = {
    "plain": {},
    "accumulation_and_iterations": {
        "gradient_accumulation_steps": 2,
        "num_iterations": 2,
        "steps_per_generation": 2,
    },
    "bnpo": {"loss_type": "bnpo"},
}


def _train(trainer_cls, config_cls, tokenizer, tmp_path, **extra):
    model = build_tiny_llama(tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0)
    args = config_cls(output_dir=str(tmp_path), **{**COMMON, **extra.pop("config", {})})
    trainer = trainer_cls(
        model=model,
        reward_funcs=digit_fraction,
        args=args,
        train_dataset=addition_dataset(),
        processing_class=tokenizer,
        **extra,
    )
    trainer.train()
    losses = [rec["loss"] for rec in trainer.state.log_history if "loss" in rec]
    return losses, {name: p.detach().clone() for name, p in trainer.model.named_parameters()}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_grpo_and_trrd_alpha_one_match_trl(variant, char_tokenizer, tmp_path):
    extra = VARIANTS[variant]
    teacher = build_tiny_llama(char_tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=3)
    ref_losses, ref_params = _train(GRPOTrainer, GRPOConfig, char_tokenizer, tmp_path / "trl", config=extra)
    runs = {
        "grpo": {"config": {**extra, "loss": "grpo"}},
        "trrd_alpha_1": {
            "config": {**extra, "loss": "trrd", "alpha": 1.0},
            "teacher": teacher,
            "teacher_tokenizer": char_tokenizer,
        },
    }
    for name, kwargs in runs.items():
        losses, params = _train(RLADTrainer, RLADConfig, char_tokenizer, tmp_path / name, **kwargs)
        assert len(losses) == len(ref_losses) == 3
        assert losses == pytest.approx(ref_losses, rel=1e-5, abs=1e-7), name
        moved = 0
        for key, value in ref_params.items():
            torch.testing.assert_close(params[key], value, rtol=1e-5, atol=1e-6, msg=f"{name}: {key}")
            moved += int(
                not torch.equal(
                    value,
                    build_tiny_llama(
                        char_tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0
                    ).state_dict()[key],
                )
            )
        assert moved > 0, "training did not change any parameter: the comparison would be vacuous"
