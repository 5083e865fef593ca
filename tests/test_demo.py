"""The main job in its reduced CI mode (same code path, fewer steps), and the shipped demo models."""

import json
from pathlib import Path

from rlad.cli.main import main
from rlad.demo.models import BUILDS, TASK_OPTIONS, checkpoint
from rlad.recipes import load_recipe


def test_demo_quick_runs_end_to_end_and_writes_its_outputs(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| **Mean@4 all** |" in out and "teacher-gap closed" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["mean_at_k"]) == {"student_before", "teacher", "grpo", "rlad"}
    # The shipped teacher is clearly better than the shipped student on held-out problems.
    assert summary["mean_at_k"]["teacher"] > summary["mean_at_k"]["student_before"] + 0.3
    for method in ("grpo", "rlad"):
        steps = [step for step, _ in summary["curves"][method][0]]
        assert steps[0] == 0 and steps[-1] == 6
        assert (tmp_path / method / "final" / "config.json").is_file()
    assert (tmp_path / "accuracy_vs_step.png").stat().st_size > 1000
    assert (tmp_path / "summary.md").read_text().startswith("| metric |")


def test_shipped_checkpoints_match_the_build_specification():
    for role, spec in BUILDS.items():
        facts = json.loads((checkpoint(role) / "build.json").read_text())
        assert (
            facts["shape"] == spec["shape"]
            and facts["steps"] == spec["steps"]
            and facts["seed"] == spec["seed"]
        )


def test_tiny_recipe_points_at_the_shipped_models():
    recipe = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "tiny_arithmetic.yaml")
    assert recipe.task_options == TASK_OPTIONS
    assert recipe.model.endswith("checkpoints/student")
