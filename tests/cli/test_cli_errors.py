"""Recipe mistakes give one line on stderr and exit code 2 (no traceback), for every recipe command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RECIPE_COMMANDS = ["train", "sft-distill", "compare"]


def _assert_one_line(code: int, err: str, command: str, message: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    assert err.strip().splitlines() == [err.strip()], err
    assert err.startswith(f"rlad {command}: error: ")
    assert message in err, err


@pytest.mark.parametrize("command", RECIPE_COMMANDS)
def test_missing_recipe_file(rlad_cli, tmp_path, command):
    code, _, err = rlad_cli(command, tmp_path / "nope.yaml")
    _assert_one_line(code, err, command, f"recipe file '{tmp_path / 'nope.yaml'}' does not exist")


@pytest.mark.parametrize("command", RECIPE_COMMANDS)
def test_bad_yaml(rlad_cli, tmp_path, command):
    path = tmp_path / "bad.yaml"
    path.write_text("model: [unclosed\ntask: arithmetic\n")
    code, _, err = rlad_cli(command, path)
    _assert_one_line(code, err, command, "is not valid YAML at line")


@pytest.mark.parametrize("command", RECIPE_COMMANDS)
def test_unknown_override_key_suggests(rlad_cli, recipe_file, command):
    code, _, err = rlad_cli(command, recipe_file(), "alpah=0.3")
    _assert_one_line(code, err, command, "unknown key 'alpah'; did you mean 'alpha'?")


def test_unknown_recipe_key_suggests(rlad_cli, tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("modle: x\ntask: arithmetic\n")
    code, _, err = rlad_cli("train", path)
    _assert_one_line(code, err, "train", "unknown recipe key 'modle'")
    assert "did you mean 'model'?" in err


@pytest.mark.parametrize("command", RECIPE_COMMANDS)
def test_wrong_type(rlad_cli, recipe_file, command):
    code, _, err = rlad_cli(command, recipe_file(), "max_steps=many")
    _assert_one_line(code, err, command, "config key 'max_steps' expects int, got 'many'")


@pytest.mark.parametrize("command", ["sft-distill", "compare"])
def test_missing_student_folder(rlad_cli, recipe_file, tmp_path, command):
    code, _, err = rlad_cli(command, recipe_file(), f"model={tmp_path / 'gone'}")
    _assert_one_line(code, err, command, f"model path '{tmp_path / 'gone'}' does not exist")


def test_sft_distill_needs_a_teacher(rlad_cli, recipe_file):
    code, _, err = rlad_cli("sft-distill", recipe_file(), "teacher_model=null", "loss=grpo")
    _assert_one_line(code, err, "sft-distill", "set config.teacher_model")


def test_compare_bad_methods_and_seeds(rlad_cli, recipe_file):
    path = recipe_file()
    code, _, err = rlad_cli("compare", path, "--methods", "grpo,ppo")
    _assert_one_line(code, err, "compare", "unknown method(s) 'ppo'; valid: grpo, kdrl, rlad, opd, sft")
    code, _, err = rlad_cli("compare", path, "--seeds", 0)
    _assert_one_line(code, err, "compare", "--seeds must be >= 1")
    code, _, err = rlad_cli("compare", path, "--methods", "grpo,kdrl", "teacher_model=null", "loss=grpo")
    _assert_one_line(code, err, "compare", "method 'kdrl' needs a teacher")


def test_entry_point_subprocess(tmp_path):
    """The installed ``rlad`` script, as a user runs it: one line, exit code 2."""
    script = shutil.which("rlad", path=str(Path(sys.executable).parent)) or shutil.which("rlad")
    assert script is not None, "the rlad entry point is not installed (pip install -e .)"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [script, "train", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    _assert_one_line(proc.returncode, proc.stderr, "train", "does not exist")
