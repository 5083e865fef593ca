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
    assert len(out + err) < 10_000  # measured: ~3.4 KB; with --verbose ~18.6 KB (~200 KB at full size)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["mean_at_k"]) == {"student_before", "teacher", "grpo", "rlad"}
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
