"""Every shipped recipe loads: known keys, right types, and the first line names the command."""

from pathlib import Path

import pytest

from rlad.run.recipes import RecipeError, load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))


def test_there_are_recipes():
    assert len(RECIPES) >= 5


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_loads_and_starts_with_its_command(path):
    recipe = load_recipe(path)
    assert recipe.config["output_dir"]
    first = path.read_text().splitlines()[0]
    assert first == f"# rlad train recipes/{path.name}"


def test_overrides_and_errors(tmp_path):
    path = RECIPES[0]
    recipe = load_recipe(
        path, ["alpha=0.3", "config.max_steps=7", "task_options.reward=logic_rl", "eval_k=2"]
    )
    assert recipe.config["alpha"] == 0.3 and recipe.config["max_steps"] == 7 and recipe.eval_k == 2
    assert recipe.task_options["reward"] == "logic_rl"
    with pytest.raises(RecipeError, match="unknown key 'alpah'; did you mean 'alpha'"):
        load_recipe(path, ["alpah=0.3"])
    with pytest.raises(RecipeError, match="config key 'alpha' expects float, got 'high'"):
        load_recipe(path, ["alpha=high"])
    with pytest.raises(RecipeError, match="is not key=value"):
        load_recipe(path, ["alpha"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: x\n  task: [unclosed\n")
    with pytest.raises(RecipeError, match="is not valid YAML at line"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")
