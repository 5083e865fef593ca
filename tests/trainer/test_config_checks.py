"""RLADConfig refuses bad ranges and options that would be accepted and then ignored, in one line each."""

import pytest

from rlad.objectives.losses import ALPHA, CLAMP, KD_BETA
from rlad.trainer import RLADConfig


def _config(tmp_path, **fields):
    return RLADConfig(output_dir=str(tmp_path), report_to="none", **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"learning_rate": 0.0}, "learning_rate=0.0 must be > 0"),
        ({"learning_rate": -1e-3}, "learning_rate=-0.001 must be > 0"),
        ({"learning_rate": float("nan")}, "learning_rate=nan must be a finite number"),
        ({"num_generations": 0}, "num_generations=0 must be >= 1"),
        ({"temperature": 0.0}, "temperature=0.0 must be > 0"),
        ({"temperature": float("inf")}, "temperature=inf must be a finite number"),
        ({"max_completion_length": 0}, "max_completion_length=0 must be >= 1"),
        ({"max_steps": 0}, r"max_steps=0 must be >= 1, or -1"),
        ({"max_steps": -5}, r"max_steps=-5 must be >= 1, or -1"),
        ({"alpha": float("nan")}, "alpha=nan must be a finite number"),
        ({"alpha": 1.5}, r"alpha=1.5 must be in \[0, 1\]"),
        ({"teacher_log_ratio_clamp": 0.0}, "teacher_log_ratio_clamp=0.0 must be a positive number or None"),
        ({"teacher_log_ratio_clamp": float("inf")}, "teacher_log_ratio_clamp=inf must be a finite number"),
        ({"clamp_mode": "soft"}, "clamp_mode='soft' is not one of hard, straight_through"),
        ({"loss": "kdrl", "kd_beta": -1.0}, "kd_beta=-1.0 must be a finite number >= 0"),
        ({"weight_decay": float("nan")}, "weight_decay=nan must be a finite number"),
        ({"gate_align_tau": -1.0}, "gate_align_tau=-1.0 must be a finite number >= 0 or None"),
        ({"gate_explore_rate": 0.0}, r"gate_explore_rate=0.0 must be in \(0, 1\]"),
        ({"advantage_std": "biased"}, "advantage_std='biased' is not one of population, sample"),
        ({"teacher_batch_size": 0}, "teacher_batch_size=0 must be >= 1 or None"),
    ],
)
def test_out_of_range_values_fail_with_one_line(fields, message, tmp_path):
    with pytest.raises(ValueError, match=message) as err:
        _config(tmp_path, **fields)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"loss": "kdrl", "gate_align_tau": 1.0},
            "gate_\\* options gate the teacher anchor of trrd; loss='kdrl'",
        ),
        ({"loss": "grpo", "gate_explore_rate": 0.5}, "gate_\\* options gate the teacher anchor of trrd"),
        ({"gate_adv_positive_only": True}, "gate_adv_positive_only=True is only used with gate_adv_tau set"),
        ({"loss": "kdrl", "kd_beta_end": 1e-3}, "kd_beta_end=0.001 is only used with kd_schedule='linear'"),
        ({"loss": "kdrl", "kd_schedule": "linear"}, "kd_schedule='linear' needs kd_beta_end"),
        ({"kd_schedule": "linear", "kd_beta_end": 1e-3}, "anneal kd_beta, which loss='trrd' does not use"),
        ({"teacher_rollouts_per_prompt": 2}, "teacher_rollouts_per_prompt=2 needs teacher_rollouts_when"),
        (
            {"teacher_rollouts_when": "always"},
            "teacher_rollouts_when='always' needs teacher_rollouts_per_prompt",
        ),
        (
            {"teacher_rollouts_per_prompt": 1, "teacher_rollouts_when": "always", "scale_rewards": "batch"},
            "teacher rollouts recompute advantages per group: use scale_rewards 'group' or 'none'",
        ),
        (
            {"teacher_rollouts_per_prompt": 8, "teacher_rollouts_when": "always", "num_generations": 8},
            "teacher_rollouts_per_prompt=8 must be smaller than num_generations=8",
        ),
        (
            {"loss": "grpo", "alpha": 0.3},
            r"alpha=0.3 is not used by loss='grpo' \(only by trrd; leave it at 0.5\)",
        ),
        ({"loss": "kdrl", "teacher_log_ratio_clamp": None}, "teacher_log_ratio_clamp=None is not used by"),
        ({"loss": "kdrl", "clamp_mode": "straight_through"}, "clamp_mode='straight_through' is not used by"),
        ({"kd_beta": 0.1}, r"kd_beta=0.1 is not used by loss='trrd' \(only by kdrl"),
        ({"kd_estimator": "k3"}, r"kd_estimator='k3' is not used by loss='trrd' \(only by kdrl, opd"),
        ({"kd_mask_above_reward": 0.5}, "kd_mask_above_reward=0.5 is not used by loss='trrd'"),
        ({"beta": 0.1}, r"beta=0.1 is not used by loss='trrd' \(only by grpo"),
        (
            {"success_threshold": 0.5},
            "success_threshold=0.5 is only used by gate_explore_rate and teacher rollouts",
        ),
        (
            {"loss_params": {"scale": 2.0}},
            "loss_params key 'scale' is not a free hyper-parameter of 'trrd': none",
        ),
        (
            {"advantage_std": "population", "scale_rewards": "none"},
            "advantage_std='population' needs scale_rewards",
        ),
    ],
)
def test_options_that_would_be_ignored_are_refused(fields, message, tmp_path):
    with pytest.raises(ValueError, match=message) as err:
        _config(tmp_path, **fields)
    assert "\n" not in str(err.value)


def test_defaults_come_from_the_loss_declarations(tmp_path):
    config = _config(tmp_path)
    assert (config.alpha, config.teacher_log_ratio_clamp, config.kd_beta) == (
        ALPHA.default,
        CLAMP.default,
        KD_BETA.default,
    )
    assert config.loss_settings(0, 10) == {
        "alpha": 0.5,
        "clamp": 1.0,
        "clamp_mode": "hard",
        "eps_low": 0.2,
        "eps_high": 0.28,
        "aggregation": "seq_mean_token_mean",
        "norm_constant": config.max_completion_length,
    }


def test_kd_beta_follows_its_schedule(tmp_path):
    config = _config(tmp_path, loss="kdrl", kd_schedule="linear", kd_beta=5e-3, kd_beta_end=1e-3)
    assert config.loss_settings(0, 11)["kd_beta"] == pytest.approx(5e-3)
    assert config.loss_settings(5, 11)["kd_beta"] == pytest.approx(3e-3)
    assert config.loss_settings(10, 11)["kd_beta"] == pytest.approx(1e-3)


def test_teacher_api_key_never_shown():
    config = RLADConfig(output_dir="unused", teacher_api_key="s3cret-key", loss="grpo", report_to="none")
    assert config.teacher_api_key == "s3cret-key"  # the client still gets it
    for text in (str(config), repr(config), str(config.to_dict())):
        assert "s3cret-key" not in text
        assert "<TEACHER_API_KEY>" in text
