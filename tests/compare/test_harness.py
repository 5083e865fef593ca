"""The comparison harness's parts: evaluation settings, run specs and their fingerprints, resumable runs,
and the one methods table every preset reads."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path

import pytest

from rlad.compare.methods import METHODS, CompareError, method_config
from rlad.compare.runs import finished
from rlad.compare.spec import RunSpec, reference_runs, train_run
from rlad.eval.settings import EvalSettings
from rlad.run.recipes import Recipe

BASE = Recipe(
    model="student", task="arithmetic", eval_k=2, config={"teacher_model": "teacher", "max_steps": 5}
)


def test_evaluate_model_passes_every_setting_to_the_backend(monkeypatch):
    ev = importlib.import_module("rlad.eval.evaluate")  # the package's ``evaluate`` is the function

    calls = []

    class Backend:
        def __init__(self, model, tokenizer, batch_size, show_progress):
            calls.append(("init", batch_size))

        def generate(self, prompts, n, temperature, max_new_tokens, top_p, seed):
            calls.append((n, temperature, max_new_tokens, top_p, seed))
            return [["1"] * n for _ in prompts]

    class Task:
        def score(self, completion, example):
            return type("Score", (), {"reward": 1.0, "correct": True, "components": {}, "reason": ""})()

    monkeypatch.setattr(ev, "HFBackend", Backend)
    settings = EvalSettings(
        k=2, n=3, temperature=0.9, top_p=0.5, seed=7, max_new_tokens=5, batch_size=11, greedy=True
    )
    report = ev.evaluate_model(None, None, Task(), [{"prompt": "1+0="}], settings, name="x")
    assert calls == [("init", 11), (3, 0.9, 5, 0.5, 7), (1, 0.0, 5, 0.5, 7)]  # sampled, then greedy
    assert report.k == 2 and report.overall.mean_at_k == 1.0 and report.config["n"] == 3


def test_eval_settings_default_to_the_papers_sampling_and_round_trip():
    settings = EvalSettings(k=4, max_new_tokens=32, batch_size=128)
    assert (settings.temperature, settings.top_p, settings.seed, settings.greedy) == (0.6, 0.95, 0, False)
    assert EvalSettings(**json.loads(json.dumps(dataclasses.asdict(settings)))) == settings


def test_a_run_spec_round_trips_and_its_fingerprint_ignores_where_it_lives(tmp_path):
    spec = train_run(
        BASE, "kdrl", 7, tmp_path / "a", "kdrl seed0", evaluation=EvalSettings(k=2), tags={"i": 0}
    )
    again = RunSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again == spec and (again.seed, again.steps) == (7, 5)
    assert spec.recipe.config["output_dir"] == str(tmp_path / "a") and spec.recipe.config["loss"] == "kdrl"
    moved = train_run(BASE, "kdrl", 7, tmp_path / "b", "renamed", evaluation=EvalSettings(k=2), tags={"i": 9})
    assert moved.fingerprint() == spec.fingerprint()
    for changed in (
        train_run(BASE, "kdrl", 8, tmp_path / "a", "kdrl seed0", evaluation=EvalSettings(k=2)),  # seed
        train_run(BASE, "kdrl", 7, tmp_path / "a", "kdrl seed0", evaluation=EvalSettings(k=2, batch_size=1)),
        train_run(BASE, "kdrl", 7, tmp_path / "a", "x", {"kd_beta": 0.02}, evaluation=EvalSettings(k=2)),
        train_run(BASE, "grpo", 7, tmp_path / "a", "kdrl seed0", evaluation=EvalSettings(k=2)),
    ):
        assert changed.fingerprint() != spec.fingerprint()


def test_references_keep_only_what_their_evaluation_reads(tmp_path):
    config = {"max_completion_length": 24, "learning_rate": 1.0, "teacher_model": "t"}
    student, ref = reference_runs(Recipe(model="s", task="arithmetic", config=config), tmp_path, "fam/")
    assert (student.name, student.model, ref.name, ref.model) == (
        "fam/student_before",
        "s",
        "fam/teacher",
        "t",
    )
    assert ref.method == "reference" and ref.output_dir == tmp_path / "teacher"
    assert ref.recipe.config == {"max_completion_length": 24}
    assert [r.name for r in reference_runs(Recipe(model="s", task="arithmetic"), tmp_path)] == [
        "student_before"
    ]
    other_rate = Recipe(model="s", task="arithmetic", config={**config, "learning_rate": 2.0})
    assert reference_runs(other_rate, tmp_path, "fam/")[1].fingerprint() == ref.fingerprint()


def test_a_finished_run_is_reused_refused_or_set_aside(tmp_path):
    spec = train_run(BASE, "grpo", 0, tmp_path, "grpo seed0")
    assert finished(spec, refuse_other=True) is None  # nothing there yet
    (tmp_path / "done.json").write_text(json.dumps({"fingerprint": spec.fingerprint(), "eval": 1}))
    assert finished(spec, refuse_other=True)["eval"] == 1
    other = train_run(BASE, "grpo", 1, tmp_path, "grpo seed0")
    with pytest.raises(CompareError, match="holds a finished run of a different recipe"):
        finished(other, refuse_other=True)
    assert (tmp_path / "done.json").is_file()  # refused: left alone
    assert finished(other, refuse_other=False) is None
    assert not (tmp_path / "done.json").exists() and (tmp_path / "done.stale.json").is_file()


def test_kdrl_is_the_same_run_in_every_preset(tmp_path):
    """The one table: ``rlad compare``, the demo and the benchmark build KDRL's config from it."""
    from benchmarks.settings import QUICK, bench_run, math_family
    from rlad.compare.recipe import plan_runs

    def kd(config):
        return {k: v for k, v in config.items() if k.startswith("kd_") or k == "loss"}

    expected = {
        "loss": "kdrl",
        "kd_beta": 5e-3,
        "kd_beta_end": 1e-3,
        "kd_schedule": "linear",
        "kd_estimator": "k2",
    }
    assert kd(METHODS["kdrl"]) == expected
    (compare,) = plan_runs(BASE, ["kdrl"], 1, tmp_path)
    bench = bench_run(math_family(), QUICK, tmp_path, "main", "kdrl", "kdrl", 0, 1e-4, 3)
    assert kd(compare.recipe.config) == kd(bench.recipe.config) == expected
    # a recipe's own coefficient wins over the table's default; the loss always comes from the table
    assert method_config("kdrl", {"loss": "trrd", "kd_schedule": "constant"})["kd_schedule"] == "constant"
    assert method_config("rlad", {"loss": "kdrl"})["loss"] == "trrd"


def test_the_demo_is_a_preset_of_the_harness(tmp_path):
    from rlad.demo.run import DemoSettings, plan

    settings = DemoSettings.quick(tmp_path)
    settings.student, settings.teacher = Path("s"), Path("t")
    references, runs = plan(settings)
    assert [r.name for r in references] == ["student_before", "teacher"] and [
        r.model for r in references
    ] == ["s", "t"]
    assert [(r.method, r.recipe.config["loss"], r.output_dir) for r in runs] == [
        ("grpo", "grpo", tmp_path / "grpo"),
        ("rlad", "trrd", tmp_path / "rlad"),
    ]
    assert {r.evaluation for r in references + runs} == {EvalSettings(k=4, max_new_tokens=32, greedy=True)}
    assert {(r.ood_split, r.ood_limit, r.ood_seed) for r in references + runs} == {("ood", 8, 0)}


def test_harness_files_stay_small():
    root = Path(__file__).resolve().parents[2]
    bench = ("run", "settings", "report", "report_setup", "analysis", "cost")
    files = [
        *root.glob("rlad/compare/*.py"),
        *(root / f"benchmarks/{n}.py" for n in bench),
        root / "rlad/demo/run.py",
    ]
    too_long = {f.name: n for f in files if (n := len(f.read_text().splitlines())) > 400}
    assert not too_long
