"""``rlad compare``: pure aggregation against hand-computed values, plots, and one tiny end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import rlad.compare.methods as methods
import rlad.compare.recipe as cmp
import rlad.compare.results as res
import rlad.run.sft_distill as sft
from rlad.plots import mean_over_runs, plot_regime_fractions, plot_subset_bars, plot_validation_curves
from rlad.run.recipes import Recipe
from rlad.tasks.arithmetic import scratchpad


def _summary(overall: tuple[float, float], **subsets: tuple[float, float]) -> dict:
    def metrics(pair: tuple[float, float]) -> dict:
        return {"mean_at_k": pair[0], "pass_at_k": pair[1]}

    return {"overall": metrics(overall), "subsets": {k: metrics(v) for k, v in subsets.items()}, "groups": {}}


def test_mean_std_by_hand():
    stat = res.mean_std([0.2, 0.4, 0.9])
    assert stat.mean == pytest.approx(0.5) and stat.n == 3
    assert stat.std == pytest.approx(math.sqrt(((0.3**2) + (0.1**2) + (0.4**2)) / 2))  # sample std, n - 1
    assert str(res.mean_std([0.5, 0.7])) == "0.600 ± 0.141"
    assert res.mean_std([0.3]) == res.Stat(0.3, None, 1) and str(res.mean_std([0.3])) == "0.300"
    assert res.mean_std([None, 0.5, float("nan")]).n == 1
    assert str(res.mean_std([])) == "n/a"


def test_aggregate_by_hand():
    results = {
        "grpo": [
            _summary((0.5, 0.75), ops2=(0.6, 0.8), ops10=(0.4, 0.7)),
            _summary((0.3, 0.5), ops2=(0.4, 0.6)),
        ],
        "rlad": [_summary((0.8, 1.0), ops2=(0.9, 1.0), ops10=(0.7, 1.0))],
    }
    rows = {(r.method, r.subset): r for r in res.aggregate(results)}
    assert [s for m, s in rows if m == "grpo"] == ["ops2", "ops10", "all"]  # natural order, then all
    assert rows["grpo", "all"].mean_at_k.mean == pytest.approx(0.4)
    assert rows["grpo", "all"].mean_at_k.std == pytest.approx(math.sqrt(0.02))
    assert rows["grpo", "all"].pass_at_k.mean == pytest.approx(0.625)
    assert rows["grpo", "ops10"].mean_at_k == res.Stat(0.4, None, 1)  # only one seed has ops10
    assert rows["rlad", "ops2"].pass_at_k == res.Stat(1.0, None, 1)

    gaps = res.gap_closed(results, student_before=_summary((0.2, 0.4)), teacher=_summary((1.0, 1.0)))
    assert gaps["grpo"].mean == pytest.approx((0.375 + 0.125) / 2) and gaps["rlad"].mean == pytest.approx(
        0.75
    )
    assert res.gap_closed(results, None, _summary((1.0, 1.0))) == {}
    assert res.gap_closed(results, _summary((0.9, 1.0)), _summary((0.5, 1.0)))["grpo"].n == 0  # no gap

    refs = {"student_before": _summary((0.2, 0.4), ops2=(0.3, 0.5)), "teacher": _summary((1.0, 1.0))}
    md = res.results_markdown(res.aggregate(results), refs, gaps, k=4, seeds={"grpo": 2, "rlad": 1})
    assert "| grpo | 2 | 0.400 ± 0.141 | 0.625 ± 0.177 | 0.250 ± 0.177 |" in md
    assert "| rlad | 1 | 0.800 | 1.000 | 0.750 |" in md
    assert "| student_before (reference) | - | 0.200 | 0.400 | - |" in md
    assert "| method | ops2 | ops10 | all |" in md
    assert "| teacher | - | - | 1.000 |" in md  # the teacher has no per-subset numbers here


def test_plan_and_method_settings(tmp_path):
    assert methods.parse_methods("grpo, sft,grpo") == ["grpo", "sft"]
    with pytest.raises(methods.CompareError, match="unknown method"):
        methods.parse_methods("grpo,dpo")
    recipe = Recipe(model="m", task="arithmetic", config={"loss": "grpo", "alpha": 0.3, "seed": 10})
    plan = cmp.plan_runs(recipe, ["rlad", "sft"], seeds=2, out_dir=tmp_path)
    assert [(r.method, r.tags["index"], r.seed) for r in plan] == [
        ("rlad", 0, 10),
        ("rlad", 1, 11),
        ("sft", 0, 10),
        ("sft", 1, 11),
    ]
    assert plan[1].output_dir == tmp_path / "rlad" / "seed1" and plan[1].name == "rlad seed1"
    assert plan[1].recipe.config == {
        "loss": "trrd",
        "alpha": 0.3,
        "seed": 11,
        "output_dir": str(tmp_path / "rlad" / "seed1"),
    }
    assert plan[2].recipe.config["loss"] == "grpo"  # sft trains on the recipe's config as is
    assert recipe.config["loss"] == "grpo"  # the base recipe is left alone
    assert {r.evaluation for r in plan} == {cmp.eval_settings(recipe)}
    # One KDRL everywhere: annealed 5e-3 -> 1e-3 unless the recipe sets its own coefficient.
    kdrl = methods.method_config("kdrl", {"loss": "grpo", "kd_beta": 0.02})
    assert kdrl == {
        "loss": "kdrl",
        "kd_beta": 0.02,
        "kd_beta_end": 1e-3,
        "kd_schedule": "linear",
        "kd_estimator": "k2",
    }
    assert methods.method_config("opd", {}) == {"loss": "opd"}
    with pytest.raises(methods.CompareError, match="unknown method 'dpo'"):
        methods.method_config("dpo", {})


def test_curves_and_plots(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    records = [
        {"step": 1, "loss": 0.1, "regime/pos_teacher_more/frac": 0.25, "regime/zero_adv/frac": 0.75},
        {"step": 2, "eval/mean_at_k": 0.5},
        {"step": 2, "loss": 0.1, "regime/pos_teacher_more/frac": 0.5, "regime/zero_adv/frac": 0.5},
        {"step": 2, "eval/mean_at_k": 0.625},  # a resumed run logged step 2 again: keep the last
    ]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    read = res.read_metrics(metrics)
    assert res.curve(read, "eval/mean_at_k") == [(2, 0.625)]
    assert res.regime_curves(read) == {
        "pos_teacher_more": [(1, 0.25), (2, 0.5)],
        "zero_adv": [(1, 0.75), (2, 0.5)],
    }
    assert res.read_metrics(tmp_path / "missing.jsonl") == []
    assert mean_over_runs([[(1, 0.0), (2, 1.0)], [(1, 1.0), (3, 0.5)]]) == (
        [1, 2, 3],
        [0.5, 1.0, 0.5],
        [0.5, 0.0, 0.0],
    )

    val = plot_validation_curves({"rlad": [[(2, 0.5), (4, 0.7)], [(2, 0.3)]], "grpo": [[]]}, tmp_path / "v.png", k=4,
                                 references={"student_before": 0.2})  # fmt: skip
    bars = plot_subset_bars({"rlad": {"ops2": (0.5, 0.1), "all": (0.4, 0.0)}}, tmp_path / "b.png", k=4)
    regimes = plot_regime_fractions({"rlad": [res.regime_curves(read)], "grpo": [{}]}, tmp_path / "r.png")
    for path in (val, bars, regimes):
        assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_validation_curves({"grpo": [[]]}, tmp_path / "none.png", k=4) is None
    assert plot_regime_fractions({"grpo": [{}]}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def _solve(prompt: str) -> str:
    numbers = [int(x) for x in prompt.rstrip("=").replace("-", "+").split("+")]
    return scratchpad(numbers, [c for c in prompt if c in "+-"])[0]


def test_compare_end_to_end(rlad_cli, recipe_file, tmp_path, monkeypatch):
    """grpo and sft, one seed each, 2 steps; the sft teacher is a stand-in that always solves."""
    monkeypatch.setattr(
        sft, "sample_teacher", lambda teacher, prompts, n, **kw: [[_solve(p)] * n for p in prompts]
    )
    out = tmp_path / "cmp"
    args = ("compare", recipe_file(), "--methods", "grpo,sft", "--seeds", 1, "--out", out, "max_steps=2")
    code, stdout, err = rlad_cli(*args)
    assert code == 0, err
    for method in ("grpo", "sft"):
        done = json.loads((out / method / "seed0" / "done.json").read_text())
        assert done["method"] == method and done["seed"] == 0 and Path(done["final_model"]).is_dir()
        assert done["eval"]["overall"]["num_problems"] == 4
        assert (out / method / "seed0" / "eval.json").is_file()
    assert (out / "reference" / "student_before" / "eval.json").is_file()
    assert (out / "reference" / "teacher" / "eval.json").is_file()
    results = json.loads((out / "results.json").read_text())
    assert {r["method"] for r in results["rows"]} == {"grpo", "sft"} and results["failures"] == []
    md = (out / "results.md").read_text()
    assert "| grpo | 1 |" in md and "| sft | 1 |" in md and "## Mean@2 per subset" in md
    assert md.strip() in stdout
    for name in ("val_accuracy.png", "subset_accuracy.png"):
        assert (out / name).is_file()

    code, stdout, err = rlad_cli(*args)  # everything is done: skipped, same table
    assert code == 0 and "grpo seed0: done, skipped" in stdout + err
    assert (out / "results.md").read_text() == md

    code, _, err = rlad_cli(*args[:-1], "max_steps=3")  # a different recipe in the same folder
    assert code == 2 and "holds a finished run of a different recipe" in err


def test_compare_with_workers_runs_each_training_in_its_own_process(rlad_cli, recipe_file, tmp_path):
    """--workers 2: two grpo seeds at once, each a subprocess with its own log; the table has both."""
    out = tmp_path / "pool"
    args = ("compare", recipe_file(), "--methods", "grpo", "--seeds", 2, "--out", out, "--workers", 2)
    code, stdout, err = rlad_cli(*args, "max_steps=2")
    assert code == 0, err
    for i in (0, 1):
        run = out / "grpo" / f"seed{i}"
        done = json.loads((run / "done.json").read_text())
        assert done["seed"] == i and Path(done["final_model"]).is_dir()
        assert f"grpo seed{i}: 100%" in (run / "log.txt").read_text()  # the subprocess's progress bar
    results = json.loads((out / "results.json").read_text())
    assert [r["mean_at_k"]["n"] for r in results["rows"] if r["method"] == "grpo"][-1] == 2
    assert results["failures"] == []
    code, stdout, err = rlad_cli(*args, "max_steps=2")
    assert code == 0 and "done before, reused" in stdout + err

    code, _, err = rlad_cli(*args, "max_steps=3")  # another recipe in those folders: refused before any work
    assert code == 2 and "holds a finished run of a different recipe" in err
    code, _, err = rlad_cli(*args[:-1], 0, "max_steps=2")
    assert code == 2 and "--workers must be >= 1, got 0" in err
