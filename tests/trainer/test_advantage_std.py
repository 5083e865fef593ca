"""advantage_std: TRL's sample std by default (our formula reproduces TRL's numbers), the paper's population std on request."""

import pytest
import torch
from trainer_helpers import COMMON, addition_dataset, digit_fraction

from rlad.objectives import group_advantages
from rlad.toy.models import build_tiny_llama
from rlad.trainer import RLADConfig, RLADTrainer


def _first_batch(tokenizer, tmp_path, **config):
    args = RLADConfig(output_dir=str(tmp_path), **{**COMMON, "max_steps": 1, "loss": "grpo", **config})
    trainer = RLADTrainer(
        model=build_tiny_llama(tokenizer, hidden_size=16, num_layers=1, num_heads=2, seed=0),
        reward_funcs=digit_fraction,
        args=args,
        train_dataset=addition_dataset(),
        processing_class=tokenizer,
    )
    captured = []
    original = trainer._generate_and_score_completions

    def spy(inputs):
        captured.append(original(inputs))
        return captured[-1]

    trainer._generate_and_score_completions = spy
    trainer.train()
    return captured[0]


def test_sample_std_is_trls_and_population_std_is_the_papers(char_tokenizer, tmp_path):
    G = COMMON["num_generations"]
    trl_batch = _first_batch(char_tokenizer, tmp_path / "sample")
    rewards = trl_batch["rewards"].view(-1, G)  # (P, G)
    assert (rewards.std(dim=1) > 0).any()  # some group has something to compare
    ours = group_advantages(rewards, scale="group", std="sample", eps=1e-4).view(-1)
    torch.testing.assert_close(trl_batch["advantages"], ours, rtol=1e-6, atol=1e-6)

    paper_batch = _first_batch(char_tokenizer, tmp_path / "population", advantage_std="population")
    torch.testing.assert_close(paper_batch["rewards"], trl_batch["rewards"])  # same rollouts (same seed)
    population = group_advantages(rewards, scale="group", std="population", eps=1e-4).view(-1)
    torch.testing.assert_close(paper_batch["advantages"], population, rtol=1e-6, atol=1e-6)
    # Population std is smaller by sqrt((G - 1) / G): advantages grow by up to sqrt(G / (G - 1)).
    moved = trl_batch["advantages"].abs() > 1e-3
    ratio = paper_batch["advantages"][moved] / trl_batch["advantages"][moved]
    assert ratio.min().item() == pytest.approx((G / (G - 1)) ** 0.5, rel=1e-3)
