"""Every option RLADConfig adds to TRL's either changes the run or is refused (tests/trainer/test_config_checks.py).

For each option, two runs of two steps on a tiny model, same seed: one with the option set (plus
what it needs), one without. Their logged numbers (loss, rewards, loss metrics) must differ.
"""

import dataclasses
import math

import pytest
from trainer_helpers import COMMON, addition_dataset, digit_fraction
from trl import GRPOConfig

from rlad.toy.models import build_tiny_llama
from rlad.trainer import RLADConfig, RLADTrainer

KDRL = {"loss": "kdrl"}
# option -> (the run with it, the run it is compared with)
CHANGES = {
    "loss": ({"loss": "grpo"}, {}),
    "alpha": ({"alpha": 0.2}, {}),
    "teacher_log_ratio_clamp": ({"teacher_log_ratio_clamp": 0.05}, {}),
    "clamp_mode": ({"clamp_mode": "straight_through", "teacher_log_ratio_clamp": 0.05}, {"teacher_log_ratio_clamp": 0.05}),
    "kd_beta": ({**KDRL, "kd_beta": 0.5}, KDRL),
    "kd_estimator": ({**KDRL, "kd_beta": 0.5, "kd_estimator": "k3"}, {**KDRL, "kd_beta": 0.5}),
    "kd_mask_above_reward": ({**KDRL, "kd_beta": 0.5, "kd_mask_above_reward": 0.0}, {**KDRL, "kd_beta": 0.5}),
    "kd_schedule": ({**KDRL, "kd_schedule": "linear", "kd_beta_end": 0.5}, KDRL),
    "kd_beta_end": ({**KDRL, "kd_schedule": "linear", "kd_beta_end": 0.5}, {**KDRL, "kd_schedule": "linear", "kd_beta_end": 0.1}),
    "advantage_std": ({"advantage_std": "population"}, {}),
    "gate_align_tau": ({"gate_align_tau": 0.0}, {}),
    "gate_adv_tau": ({"gate_adv_tau": 100.0}, {}),
    "gate_adv_positive_only": ({"gate_adv_tau": 0.0, "gate_adv_positive_only": True}, {"gate_adv_tau": 0.0}),
    "gate_explore_rate": ({"gate_explore_rate": 0.5, "success_threshold": 0.01}, {"gate_explore_rate": 1.0, "success_threshold": 0.01}),
    "success_threshold": ({"gate_explore_rate": 1e-6, "success_threshold": 0.0}, {"gate_explore_rate": 1e-6}),
    "teacher_rollouts_per_prompt": ({"teacher_rollouts_per_prompt": 1, "teacher_rollouts_when": "always", "success_threshold": 0.0}, {}),
    "teacher_rollouts_when": (
        {"teacher_rollouts_per_prompt": 1, "teacher_rollouts_when": "always", "success_threshold": 0.0},
        {"teacher_rollouts_per_prompt": 1, "teacher_rollouts_when": "all_failed", "success_threshold": 0.0},
    ),
}  # fmt: skip
# Where and how the teacher runs, not what is computed: the backends give the same numbers by design
# (tests/teacher_backends); a recipe names its teacher once for every method it compares.
EXECUTION = {
    "teacher_model", "teacher_dtype", "teacher_backend", "teacher_offload_device", "teacher_offload_move",
    "teacher_url", "teacher_timeout_s", "teacher_max_retries", "teacher_max_concurrency", "teacher_batch_size",
    "teacher_api_key",
}  # fmt: skip
# Hyper-parameters of losses registered outside rlad: tests/trainer/test_loss_plugin.py.
ELSEWHERE = {"loss_params"}


def _own_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(RLADConfig)} - {f.name for f in dataclasses.fields(GRPOConfig)}


def test_every_added_option_is_classified():
    assert _own_fields() == set(CHANGES) | EXECUTION & _own_fields() | ELSEWHERE


@pytest.fixture(scope="module")
def run(char_tokenizer, tmp_path_factory):
    teacher = build_tiny_llama(char_tokenizer, hidden_size=16, num_layers=1, num_heads=2, seed=1)
    cache = {}

    def numbers(overrides: dict, fresh: bool = False) -> list[tuple[str, float]]:
        key = tuple(sorted(overrides.items()))
        if key not in cache or fresh:
            settings = {**COMMON, "max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 2}
            args = RLADConfig(output_dir=str(tmp_path_factory.mktemp("run")), **{**settings, **overrides})
            trainer = RLADTrainer(
                model=build_tiny_llama(char_tokenizer, hidden_size=16, num_layers=1, num_heads=2, seed=0),
                reward_funcs=digit_fraction,
                args=args,
                train_dataset=addition_dataset(),
                processing_class=char_tokenizer,
                teacher=teacher,
                teacher_tokenizer=char_tokenizer,
            )
            trainer.train()
            skip = ("time", "runtime", "per_second", "flos", "epoch", "timing", "step")
            cache[key] = [
                (k, v)
                for record in trainer.state.log_history
                for k, v in sorted(record.items())
                if isinstance(v, float) and not any(s in k for s in skip)
            ]
        return cache[key]

    return numbers


@pytest.mark.slow
def test_the_same_options_give_the_same_numbers(run):
    """Without this, any difference below could be noise rather than the option."""
    first = run(
        {"teacher_rollouts_per_prompt": 1, "teacher_rollouts_when": "always", "success_threshold": 0.0}
    )
    assert len(first) > 10
    assert run(dict(CHANGES["teacher_rollouts_per_prompt"][0]), fresh=True) == first
    assert run({}) == run({}, fresh=True)


@pytest.mark.slow
@pytest.mark.parametrize("option", sorted(CHANGES))
def test_option_changes_the_run(option, run):
    with_option, without = CHANGES[option]
    a, b = run(with_option), run(without)
    assert all(math.isfinite(v) for _, v in a + b)
    assert a != b, f"{option}: setting it changed no logged number"
