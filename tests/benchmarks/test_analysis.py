"""The benchmark's pure measurements (convergence, stability, regimes by third, gains) and its settings."""

import dataclasses
import doctest
import json

import pytest

import benchmarks.analysis as analysis
from benchmarks.run import choose_kd, choose_rates, kd_specs, main_specs, search_specs
from benchmarks.settings import ABLATIONS, FULL, QUICK, bench_run, math_family
from rlad.compare.methods import METHODS, kd_overrides
from rlad.compare.pool import spec_job
from rlad.compare.spec import RunSpec


@pytest.mark.parametrize("module", [analysis])
def test_doctests(module):
    result = doctest.testmod(module)
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
        again = RunSpec.from_json(json.loads(json.dumps(spec.to_json())))
        assert again == spec and again.fingerprint() == spec.fingerprint()
        config = spec.recipe.config
        assert config["per_device_train_batch_size"] == FULL.prompts_per_step * FULL.num_generations
        assert (
            config["max_steps"] == FULL.lr_search_steps and spec.evaluation is None
        )  # searches: no final eval
        assert config.get("loss") == METHODS[spec.method].get("loss")  # sft: no loss


def test_choose_rates_falls_back_to_the_first_rate_without_validation(tmp_path):
    rates = choose_rates(search_specs(math_family(), QUICK, tmp_path), QUICK)
    assert {m: r["chosen"] for m, r in rates.items()} == {m: QUICK.lr_grid[0] for m in QUICK.methods}


def test_quick_ablations_are_known():
    assert set(QUICK.ablations) <= set(ABLATIONS) and set(FULL.ablations) == set(ABLATIONS)


def _finish(spec, values):
    """Fake a finished run: ``metrics.jsonl`` with the given validation points, and ``done.json``."""
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"step": 10 * (i + 1), "eval/mean_at_k": v}) for i, v in enumerate(values)]
    (spec.output_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (spec.output_dir / "done.json").write_text(json.dumps({"fingerprint": spec.fingerprint()}))


def _kd(spec):
    return {k: v for k, v in spec.recipe.config.items() if k.startswith("kd_")}


def test_kdrl_coefficient_search_reuses_the_default_run_and_picks_the_best(tmp_path):
    rates = {"kdrl": {"chosen": 1e-4}}
    specs = kd_specs(math_family(), FULL, tmp_path, rates)
    annealed = {"kd_schedule": "linear", "kd_estimator": "k2"}
    assert [_kd(s) for s in specs] == [
        {"kd_beta": 1e-3, "kd_beta_end": pytest.approx(2e-4), **annealed},
        {
            "kd_beta": 5e-3,
            "kd_beta_end": 1e-3,
            **annealed,
        },  # the default: the lr search's own run at that rate
        {"kd_beta": 2e-2, "kd_beta_end": pytest.approx(4e-3), **annealed},
    ]
    assert specs[1].name == "math/lr_search/kdrl_lr0.0001/seed0"
    assert all(s.recipe.config["learning_rate"] == 1e-4 and s.steps == FULL.lr_search_steps for s in specs)
    for spec, values in zip(specs, ([0.2, 0.3], [0.2, 0.2], [0.4, 0.1])):
        _finish(spec, values)
    choose_kd(specs, rates, FULL)
    assert rates["kdrl"]["kd_beta"] == 1e-3 and rates["kdrl"]["kd_scores"]["0.02"] == pytest.approx(0.25)
    main = main_specs(math_family(), FULL, tmp_path, {m: {"chosen": 1e-4} for m in FULL.methods} | rates, 1)
    assert _kd({s.method: s for s in main}["kdrl"]) == {**annealed, **kd_overrides(1e-3)}


def _grpo_search(tmp_path, family=None, mode=QUICK):
    (spec,) = [s for s in search_specs(family or math_family(), mode, tmp_path) if s.method == "grpo"]
    return spec


def test_a_finished_run_is_reused_only_while_its_settings_are_unchanged(tmp_path):
    spec = _grpo_search(tmp_path)
    spec_job(spec)
    _finish(spec, [0.1])
    assert spec_job(spec).marker.is_file()  # same settings: kept
    wider = _grpo_search(tmp_path, mode=dataclasses.replace(QUICK, logic_seeds=5))
    assert spec_job(wider).marker.is_file()  # not a setting of this run: kept
    relabelled = dataclasses.replace(math_family(), hardest="ood_other")
    assert spec_job(_grpo_search(tmp_path, relabelled)).marker.is_file()  # read by the report only
    hotter = _grpo_search(tmp_path, mode=dataclasses.replace(QUICK, temperature=1.0))
    assert not spec_job(hotter).marker.is_file()  # changed: runs again
    assert (spec.output_dir / "done.stale.json").is_file()


def test_a_run_finished_before_the_harness_fingerprinted_it_is_redone(tmp_path):
    spec = _grpo_search(tmp_path)
    spec.output_dir.mkdir(parents=True)
    (spec.output_dir / "done.json").write_text(json.dumps({"spec": {"method": "grpo"}}))
    assert not spec_job(spec).marker.is_file()


def test_lr_section_reports_searches_and_transferred_settings(tmp_path):
    from benchmarks.report_setup import lr_section
    from benchmarks.run import TRANSFERRED

    rates = {
        "math": {
            "grpo": {"scores": {"3e-05": 0.2, "0.0001": 0.1}, "chosen": 3e-5},
            "kdrl": {"scores": {"3e-05": 0.1}, "chosen": 3e-5, "kd_scores": {"0.02": 0.3}, "kd_beta": 0.02},
        },
        "logic": TRANSFERRED,
    }
    (tmp_path / "lr_search.json").write_text(json.dumps(rates))
    text = "\n".join(lr_section(tmp_path))
    assert "| grpo | 0.200 | 0.100 | 3e-05 |" in text
    assert "0.02: 0.300; chosen 0.02." in text
    assert f"Learning rates and KD coefficient for logic: {TRANSFERRED}." in text


def test_each_family_sizes_its_own_runs(tmp_path):
    from benchmarks.settings import logic_family

    assert math_family().mode(FULL) == FULL
    logic_mode = logic_family(tmp_path).mode(FULL)
    assert (logic_mode.steps, logic_mode.prompts_per_step, logic_mode.lr_search_steps) == (100, 8, 50)
    restored = dataclasses.replace(
        logic_mode,
        steps=FULL.steps,
        prompts_per_step=FULL.prompts_per_step,
        lr_search_steps=FULL.lr_search_steps,
    )
    assert restored == FULL
    rates = {m: {"chosen": 3e-5} for m in FULL.methods}
    for spec in main_specs(logic_family(tmp_path), logic_mode, tmp_path, rates, 1):
        assert (
            spec.steps == 100
            and spec.recipe.config["per_device_train_batch_size"] == 8 * FULL.num_generations
        )


def test_logic_search_flag_sets_the_mode_without_changing_run_fingerprints(tmp_path, monkeypatch):
    import benchmarks.run as run

    seen = []
    monkeypatch.setattr(run, "run_benchmark", lambda mode, out, phases: seen.append(mode))
    for flag in ("--no-logic-search", "--logic-search"):
        assert run.main(["--out", str(tmp_path), flag]) == 0
    assert run.main(["--out", str(tmp_path)]) == 0
    assert [m.logic_search for m in seen] == [False, True, FULL.logic_search]
    # a run finished without the search is reused by a search-enabled invocation
    plain, searched = (
        bench_run(math_family(), m, tmp_path, "main", "grpo", "grpo", 0, 3e-5, m.steps) for m in seen[:2]
    )
    assert plain.fingerprint() == searched.fingerprint()


def test_the_logic_search_runs_half_the_logic_budget_and_skips_the_final_evaluation(tmp_path):
    from benchmarks.settings import logic_family

    def needs_final_eval(spec):
        return spec.evaluation is not None

    logic = logic_family(tmp_path)
    logic_mode = logic.mode(FULL)
    searches = search_specs(logic, logic_mode, tmp_path)
    assert len(searches) == len(FULL.methods) * len(FULL.lr_grid)
    assert {s.steps for s in searches} == {logic_mode.steps // 2}
    rates = {m: {"chosen": 1e-4} for m in FULL.methods}
    kd = kd_specs(logic, logic_mode, tmp_path, rates)
    assert {s.steps for s in kd} == {logic_mode.steps // 2} and len(kd) == len(FULL.kd_grid)
    assert not any(needs_final_eval(s) for s in searches + kd)
    assert all(needs_final_eval(s) for s in main_specs(logic, logic_mode, tmp_path, rates, 1))


def test_phase_times_say_when_they_add_up_several_invocations():
    from benchmarks.report_setup import invocations_note

    everything = ["search", "tune", "main", "cost", "report"]
    first = {"phases": everything, "date": "d1", "seconds": 3819.5}
    report_only = {"phases": ["report"], "date": "d3", "seconds": 1.0}
    assert invocations_note([first, report_only]) == "."
    note = invocations_note([first, {"phases": everything, "date": "d2", "seconds": 2019.7}, report_only])
    assert note.startswith(", summed over 2 invocations (d1: 3820 s, d2: 2020 s)")


def test_the_report_reads_metrics_from_the_run_folder_when_the_output_folder_moved(tmp_path):
    from benchmarks.report import load_phase

    run = tmp_path / "runs" / "logic" / "main" / "grpo" / "seed0"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 20, "eval/mean_at_k": 0.5}\n')
    (run / "done.json").write_text(json.dumps({"metrics": "/gone/runs/logic/main/grpo/seed0/metrics.jsonl"}))
    runs = load_phase(tmp_path, "logic", "main")
    assert runs["grpo"][0]["records"] == [{"step": 20, "eval/mean_at_k": 0.5}]


def test_power_needs_a_gain_of_three_seed_stds_over_the_student():
    yes = analysis.grpo_power(0.30, [0.40, 0.42, 0.44])
    assert (yes.gain, yes.std, yes.seeds, yes.has_power) == (
        pytest.approx(0.12),
        pytest.approx(0.02),
        3,
        True,
    )
    # exactly 3 seed-std is enough; just under is not
    assert analysis.grpo_power(0.0, [0.04, 0.06, 0.08]).has_power  # gain 0.06, std 0.02
    under = analysis.grpo_power(0.0, [0.039, 0.06, 0.081])  # gain 0.06, std 0.021
    assert not under.has_power and under.reason == "GRPO gains +0.060 = 2.9 seed-std (< 3)"
    # the old apart-trained math pair: validation 0.178 -> 0.174, final 0.186 ± 0.008 vs student 0.175
    old = analysis.grpo_power(0.175, [0.178, 0.186, 0.194])
    assert not old.has_power and old.reason == "GRPO gains +0.011 = 1.4 seed-std (< 3)"
    down = analysis.grpo_power(0.20, [0.10, 0.12])
    assert not down.has_power and down.gain == pytest.approx(-0.09)
    assert down.reason == "GRPO did not improve on the student (gain -0.090)"
    one = analysis.grpo_power(0.2, [0.9])
    assert (one.has_power, one.std, one.reason) == (False, None, "one GRPO seed (gain +0.700): no seed-std")
    assert analysis.grpo_power(None, [0.5, 0.6]).reason == "no untrained-student reference"
    assert analysis.grpo_power(0.2, []).reason == "no finished GRPO run"
    flat = analysis.grpo_power(0.2, [0.3, 0.3, 0.3])  # no spread at all: any positive gain has power
    assert flat.has_power and flat.std == 0 and flat.reason == "GRPO gains +0.100 = inf seed-std (>= 3)"
    assert not analysis.grpo_power(0.3, [0.3, 0.3]).has_power  # no spread and no gain: still no power


def test_claims_are_decided_only_beyond_the_seed_noise():
    assert analysis.compare_claim([0.50, 0.52], [0.40, 0.42]) == (
        pytest.approx(0.1),
        pytest.approx(0.02),
        "yes",
    )
    diff, noise, word = analysis.compare_claim([0.40, 0.44], [0.41, 0.45])
    assert (diff, word) == (pytest.approx(-0.01), "within noise") and noise == pytest.approx(0.04)
    assert analysis.compare_claim([0.30, 0.30], [0.40, 0.40]) == (pytest.approx(-0.1), 0.0, "no")
    assert analysis.compare_claim([], [0.4]) == (None, 0.0, "not measured")


def _summary(in_dist, pass_in, hardest):
    metrics = {"mean_at_k": in_dist, "pass_at_k": pass_in}
    return {
        "overall": metrics,
        "groups": {"in_distribution": metrics},
        "subsets": {"ood_ops4": {"mean_at_k": hardest, "pass_at_k": hardest}},
    }


def _runs(table):
    return {m: [{"eval": _summary(*values)} for values in seeds] for m, seeds in table.items()}


def test_verdicts_are_printed_only_for_a_family_with_power():
    from benchmarks.report_power import power_section

    refs = {"student_before": {"eval": _summary(0.30, 0.6, 0.05)}}
    flat = _runs({"grpo": [(0.30, 0.6, 0.05), (0.32, 0.6, 0.05)], "rlad": [(0.5, 0.9, 0.3)] * 2})
    lines, numbers = power_section("math", flat, refs, 8, "ood_ops4")
    text = "\n".join(lines)
    assert "**No power** (GRPO gains +0.010 = 0.7 seed-std (< 3))" in text
    assert "holds here?" not in text and "verdicts" not in numbers
    assert numbers["power"]["has_power"] is False

    moving = _runs(
        {
            "grpo": [(0.40, 0.70, 0.05), (0.42, 0.72, 0.05), (0.44, 0.74, 0.05)],
            "kdrl": [(0.46, 0.70, 0.05), (0.46, 0.70, 0.05), (0.46, 0.70, 0.05)],
            "rlad": [(0.30, 0.80, 0.10), (0.31, 0.81, 0.11), (0.32, 0.82, 0.12)],
        }
    )
    lines, numbers = power_section("math", moving, refs, 8, "ood_ops4")
    text = "\n".join(lines)
    assert "| 0.300 | 3 | +0.120 | 0.020 | 6.0 | yes |" in text
    # Mean@k: RLAD below GRPO; Pass@k: above; below KDRL; above GRPO on the hardest subset
    assert [v["word"] for v in numbers["verdicts"].values()] == ["no", "yes", "no", "yes"]
    assert "| RLAD beats GRPO (in-distribution Mean@8) | no | -0.110 | 0.022 |" in text


def test_math_only_flags_leave_out_logic_and_ablations(tmp_path, monkeypatch):
    import benchmarks.run as run

    seen = []
    monkeypatch.setattr(run, "run_benchmark", lambda mode, out, phases: seen.append(mode))
    assert run.main(["--out", str(tmp_path), "--families", "math", "--no-ablations"]) == 0
    assert run.main(["--out", str(tmp_path), "--families", "math,logic"]) == 0
    (math_only, both) = seen
    assert (math_only.logic, math_only.logic_seeds, math_only.ablations) == (False, 0, ())
    assert (math_only.steps, math_only.seeds, math_only.methods) == (FULL.steps, FULL.seeds, FULL.methods)
    assert both == FULL
    for bad in ("logic", "math,code"):
        with pytest.raises(SystemExit):
            run.main(["--out", str(tmp_path), "--families", bad])
    assert run.main(["--out", str(tmp_path), "--lr-grid", "1e-3, 3e-5,1e-3"]) == 0
    assert seen[-1].lr_grid == (3e-5, 1e-3)  # sorted, duplicates dropped; the rest of the mode unchanged
    assert dataclasses.replace(seen[-1], lr_grid=FULL.lr_grid) == FULL
    for bad in ("", "abc", "1e-4,-1"):
        with pytest.raises(SystemExit):
            run.main(["--out", str(tmp_path), "--lr-grid", bad])


def test_clamp_off_really_turns_the_clamp_off_and_the_logic_build_takes_steps(tmp_path):
    from benchmarks.logic import RECIPE
    from benchmarks.run import ablation_specs, logic_pair_job

    rates = {"rlad": {"chosen": 3e-5}}
    (spec,) = [
        s
        for s in ablation_specs(math_family(), FULL, tmp_path, rates)
        if s.tags["tag"] == "clamp_off" and s.seed == 0
    ]
    assert (
        "teacher_log_ratio_clamp" in spec.recipe.config
        and spec.recipe.config["teacher_log_ratio_clamp"] is None
    )
    assert (
        RunSpec.from_json(json.loads(json.dumps(spec.to_json()))).recipe.config["teacher_log_ratio_clamp"]
        is None
    )
    argv = logic_pair_job(FULL, tmp_path).argv
    assert argv[argv.index("--steps") + 1] == str(FULL.logic_build_steps) == str(RECIPE.steps)
