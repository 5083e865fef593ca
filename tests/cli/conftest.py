"""Helpers for the CLI tests: a tiny recipe on the ``arithmetic`` task and an in-process ``rlad`` call."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


def tiny_recipe(student: Path, teacher: Path, output_dir: Path, **config) -> dict:
    """A recipe that trains in a few seconds on 2 CPU cores: 1-digit sums, 8 completions per step."""
    return {
        "model": str(student),
        "task": "arithmetic",
        "task_options": {"min_operands": 2, "max_operands": 2, "max_digits": 1},
        "train_limit": 16,
        "eval_limit": 4,
        "eval_every": 2,
        "eval_k": 2,
        "config": {
            "loss": "trrd",
            "teacher_model": str(teacher),
            "max_steps": 3,
            "per_device_train_batch_size": 8,
            "num_generations": 4,
            "max_completion_length": 24,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "save_steps": 2,
            "report_to": "none",
            "gradient_checkpointing": False,
            "disable_tqdm": True,
            "seed": 0,
            "output_dir": str(output_dir),
            **config,
        },
    }


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> tuple[Path, Path]:
    """A random tiny student and teacher saved to disk with the character tokenizer (seconds to build)."""
    from rlad.toy.models import build_tiny_llama, save_model
    from rlad.toy.tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    root = tmp_path_factory.mktemp("cli_models")
    for name, seed in (("student", 0), ("teacher", 1)):
        model = build_tiny_llama(tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=seed)
        save_model(model, tokenizer, root / name)
    return root / "student", root / "teacher"


@pytest.fixture
def recipe_file(tmp_path, tiny_models):
    """Write a tiny recipe (config overrides as keyword arguments) and return its path."""

    def write(name: str = "recipe.yaml", **config) -> Path:
        student, teacher = tiny_models
        path = tmp_path / name
        path.write_text(yaml.safe_dump(tiny_recipe(student, teacher, tmp_path / "run", **config)))
        return path

    return write


@pytest.fixture
def rlad_cli(capsys):
    """Run ``rlad ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    from rlad.cli.main import main

    def call(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return call
