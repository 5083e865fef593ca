"""The real-model recipe and the build-teacher command's argument handling (no training)."""

from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "real_sums_lora.yaml"


def test_real_recipe_loads_with_a_lora_block():
    from rlad.run.recipes import load_recipe
    from rlad.run.runner import lora_config

    recipe = load_recipe(str(RECIPE), [])
    assert recipe.model == "smollm2-135m-sums-early" and recipe.config["teacher_model"] == "smollm2-135m-sums"
    config = lora_config(recipe.lora)
    assert config.r == 8 and set(config.target_modules) >= {"q_proj", "down_proj"}
    assert lora_config(None) is None


def test_bad_lora_options_are_one_line_recipe_errors():
    from rlad.run.recipes import RecipeError
    from rlad.run.runner import lora_config

    with pytest.raises(RecipeError, match="bad lora options"):
        lora_config({"rank": 8})


def test_build_teacher_rejects_unknown_names_and_bad_steps(capsys):
    from rlad.cli.main import main

    assert main(["build-teacher", "nosuch"]) == 2
    assert "valid: smollm2-135m-sums, smollm2-135m-sums-early" in capsys.readouterr().err
    assert main(["build-teacher", "smollm2-135m-sums", "--max-steps", "0"]) == 2
    assert "--max-steps must be >= 1" in capsys.readouterr().err
