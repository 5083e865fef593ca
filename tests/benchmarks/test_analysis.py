"""The benchmark's pure measurements (convergence, stability, regimes by third, gains) and its settings."""

import doctest

import benchmarks.analysis as analysis
from benchmarks.run import choose_rates, search_specs
from benchmarks.settings import ABLATIONS, FULL, QUICK, RunSpec, math_family


def test_analysis_doctests():
    result = doctest.testmod(analysis)
    assert result.attempted > 0 and result.failed == 0


def test_steps_to_reach_reads_the_first_crossing_and_stability_only_the_last_third():
    curve = [(0, 0.1), (20, 0.3), (40, 0.2), (60, 0.35)]
    assert analysis.steps_to_reach(curve, 0.3) == 20
    assert analysis.last_third_std(curve, 60) is None  # one point after step 40
    assert analysis.last_third_std([(30, 0.2), (45, 0.2), (60, 0.2)], 60) == 0.0


def test_run_spec_round_trips_through_json_and_keeps_equal_budgets(tmp_path):
    specs = search_specs(math_family(), FULL, tmp_path)
    assert len(specs) == len(FULL.methods) * len(FULL.lr_grid)
    for spec in specs:
        again = RunSpec.from_json(spec.to_json())
        assert again == spec
        config = spec.config()
        assert config["per_device_train_batch_size"] == FULL.prompts_per_step * FULL.num_generations
        assert config["max_steps"] == FULL.lr_search_steps


def test_choose_rates_falls_back_to_the_first_rate_without_validation(tmp_path):
    rates = choose_rates(search_specs(math_family(), QUICK, tmp_path), QUICK)
    assert {m: r["chosen"] for m, r in rates.items()} == {m: QUICK.lr_grid[0] for m in QUICK.methods}


def test_quick_ablations_are_known():
    assert set(QUICK.ablations) <= set(ABLATIONS) and set(FULL.ablations) == set(ABLATIONS)
