"""The real-model family's settings and report tables (benchmarks.real), without training anything."""

import json

import pytest

import benchmarks.real as real
from rlad.compare.methods import RL_METHODS
from rlad.compare.spec import train_run


def test_the_settings_are_the_recipe_with_the_overrides_and_every_method_can_run_them():
    recipe = real.load()
    config = recipe.config
    assert (recipe.model, config["teacher_model"], recipe.task) == (
        "smollm2-135m-sums-early",
        "smollm2-135m-sums",
        "sums",
    )
    assert config["max_steps"] == 32 and config["learning_rate"] == pytest.approx(5e-4)
    assert config["steps_per_generation"] == 4 and config["lr_scheduler_type"] == "constant"
    assert recipe.eval_every == 0 and recipe.eval_limit == 64 and recipe.eval_k == 4
    assert recipe.lora["r"] == 8
    for method in real.METHODS:  # every method builds a valid trainer config from the same settings
        run = train_run(recipe, method, 0, real.REPO / "unused", method)
        assert run.recipe.config["learning_rate"] == pytest.approx(5e-4)
        if method in RL_METHODS:
            assert run.recipe.training_config().use_cpu  # bf16 autocast on the CPU


def test_reward_table_takes_first_and_last_batches_per_seed_then_the_mean_over_seeds():
    curves = {
        "grpo": [[(1, 0.1), (5, 0.2), (9, 0.3), (13, 0.5)], [(1, 0.3), (5, 0.3), (9, 0.5), (13, 0.7)]],
        "rlad": [[(1, 0.2), (5, 0.4)]],
    }
    lines = real.reward_table(curves, window=2)
    # first: (0.15 + 0.3) / 2, last: (0.4 + 0.6) / 2
    assert lines[2] == "| grpo | 2 | 0.225 | 0.500 | +0.275 |"
    assert lines[3] == "| rlad | 1 | 0.300 | 0.300 | +0.000 |"


def test_mechanism_and_cost_tables_show_the_measured_numbers():
    report = {
        "accuracy": 0.109,
        "log_ratio_mean": 0.451,
        "log_ratio_quantiles": {"q05": -0.1, "q95": 3.1},
        "beyond_clamp": 0.06,
        "veto_share": 0.015,
        "positive_tokens": 668,
        "agreed_share": 0.929,
        "num_correct": 14,
    }
    lines = real.mechanism_table({"student_before": report, "grpo": {**report, "agreed_share": None}})
    assert lines[2] == "| student_before | 0.109 | +0.45 | +3.10 | 0.060 | 0.015 (of 668) | 0.93 (of 14) |"
    assert lines[3].endswith("| 0.015 (of 668) | - |")

    timing = {"step_s": 20.0, "generation_s": 8.0, "teacher_scoring_s": 0.0, "loss_forward_s": 4.0}
    cost = {
        "per_method": {
            "grpo": {**timing, "backward_optim_s": 6.0},
            "rlad": {**timing, "step_s": 23.0, "teacher_scoring_s": 2.5, "backward_optim_s": 6.5},
        },
        "ratio_to_grpo": {"grpo": 1.0, "rlad": 1.15},
    }
    lines = real.cost_table(cost)
    assert lines[2] == "| grpo | 20.0 | 8.0 | 0.0 | 4.0 | 6.0 | 1.000 |"
    assert lines[3] == "| rlad | 23.0 | 8.0 | 2.5 | 4.0 | 6.5 | 1.150 |"
    json.dumps(cost)  # what report.json stores


def test_cost_parts_are_per_step_shares_also_when_generation_runs_every_few_steps():
    import doctest

    import benchmarks.cost as cost

    result = doctest.testmod(cost)
    assert result.attempted > 0 and result.failed == 0
