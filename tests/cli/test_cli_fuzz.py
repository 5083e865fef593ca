"""Bad invocations of every subcommand: each is one line on stderr and exit code 2, before any work.

Most run in this process (``rlad.cli.main.main``); a few run the installed ``rlad`` script, and the
last tests prove that ``--help`` and argument errors load neither TRL nor torch (the reason they answer
at once). ``{recipe}``, ``{model}``, ``{tmp}``, ``{binary}``, ``{listcfg}`` and ``{file}`` are filled in
per test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HANG_GUARD_S = 300  # a subprocess call that takes longer has hung (normal: a few seconds)

# (argv, the text the one-line message must contain)
CASES = [
    # top level
    ([], "the following arguments are required: COMMAND"),
    (["nosuch"], "invalid choice: 'nosuch'"),
    (["--bogus"], "the following arguments are required: COMMAND"),
    # train
    (["train"], "the following arguments are required: recipe"),
    (["train", "{tmp}/missing.yaml"], "does not exist"),
    (["train", "{tmp}"], "is a directory; give a recipe YAML file"),
    (["train", "{binary}"], "is not a UTF-8 text file"),
    (["train", "{listcfg}"], "recipe key 'config' must be a mapping of keys to values, got list"),
    (["train", "{recipe}", "alpah=0.3"], "unknown key 'alpah'; did you mean 'alpha'?"),
    (["train", "{recipe}", "max_steps=many"], "config key 'max_steps' expects int, got 'many'"),
    (["train", "{recipe}", "learning_rate=nan"], "config key 'learning_rate' must be a finite number"),
    (["train", "{recipe}", "temperature=.inf"], "config key 'temperature' must be a finite number"),
    (["train", "{recipe}", "alpha=-.inf"], "config key 'alpha' must be a finite number"),
    (["train", "{recipe}", "justaword"], "override 'justaword' is not key=value"),
    # ranges checked by RLADConfig, reported by the CLI (the message names the value)
    (["train", "{recipe}", "max_steps=0"], "max_steps=0"),
    (["train", "{recipe}", "max_steps=-5"], "max_steps=-5"),
    (["train", "{recipe}", "num_generations=0"], "num_generations=0"),
    (["train", "{recipe}", "learning_rate=-1"], "learning_rate=-1"),
    (["train", "{recipe}", "temperature=0"], "temperature=0"),
    (["train", "{recipe}", "max_completion_length=0"], "max_completion_length=0"),
    (["compare", "{recipe}", "num_generations=0"], "num_generations=0"),
    (["sft-distill", "{recipe}", "learning_rate=-1"], "learning_rate=-1"),
    (["train", "{recipe}", "eval_k=0"], "eval_k must be >= 1, got 0"),
    (["train", "{recipe}", "eval_every=-1"], "eval_every must be >= 0"),
    (["train", "{recipe}", "task_options=[1, 2]"], "recipe key 'task_options' expects dict, got [1, 2]"),
    (["train", "{recipe}", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "{recipe}", "loss=nosuch"], "loss"),
    (["train", "{recipe}", "output_dir={file}/sub"], "output_dir '{file}/sub' is not writable"),
    (["train", "{recipe}", "model={tmp}/gone"], "model path '{tmp}/gone' does not exist"),
    (["train", "{recipe}", "model={tmp}"], "model folder '{tmp}' has no config.json (not a saved model)"),
    (["train", "{recipe}", "teacher_model={tmp}"], "teacher_model folder '{tmp}' has no config.json"),
    (
        [
            "train",
            "{recipe}",
            "teacher_backend=remote",
            "teacher_url=http://127.0.0.1:9",
            "teacher_max_retries=0",
        ],
        "the teacher server at http://127.0.0.1:9 gave no valid answer",
    ),
    # eval
    (["eval"], "the following arguments are required: model, --task"),
    (["eval", "{model}"], "the following arguments are required: --task"),
    (["eval", "{model}", "--task", "arithmetic", "--k", "abc"], "argument --k: invalid int value: 'abc'"),
    (["eval", "{model}", "--task", "arithmetic", "--k", "0"], "--k must be >= 1, got 0"),
    (["eval", "{model}", "--task", "arithmetic", "--k", "4", "--n", "2"], "--n must be >= --k"),
    (["eval", "{model}", "--task", "arithmetic", "--temperature", "inf"], "--temperature must be a finite"),
    (["eval", "{model}", "--task", "arithmetic", "--temperature", "nan"], "--temperature must be a finite"),
    (["eval", "{model}", "--task", "arithmetic", "--temperature", "-1"], "--temperature must be a finite"),
    (["eval", "{model}", "--task", "arithmetic", "--top-p", "nan"], "--top-p must be in (0, 1]"),
    (["eval", "{model}", "--task", "arithmetic", "--top-p", "1.5"], "--top-p must be in (0, 1]"),
    (["eval", "{model}", "--task", "arithmetic", "--top-p", "0"], "--top-p must be in (0, 1]"),
    (["eval", "{model}", "--task", "arithmetic", "--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
    (["eval", "{model}", "--task", "arithmetic", "--limit", "0"], "--limit must be >= 1"),
    (["eval", "{model}", "--task", "arithmetic", "--batch-size", "-3"], "--batch-size must be >= 1"),
    (["eval", "{model}", "--task", "arithmetic", "--backend", "tpu"], "argument --backend: invalid choice"),
    (["eval", "{tmp}/nope", "--task", "arithmetic"], "model path '{tmp}/nope' does not exist"),
    (
        ["eval", "{tmp}", "--task", "arithmetic"],
        "model folder '{tmp}' has no config.json (not a saved model)",
    ),
    (["sft-distill", "{recipe}", "model={tmp}"], "model folder '{tmp}' has no config.json"),
    (
        ["eval", "{model}", "--task", "arithmetic", "--out", "{file}"],
        "--out '{file}' is a file, not a folder",
    ),
    (["eval", "{model}", "--task", "nosuchtask", "--out", "{tmp}/e"], "nosuchtask"),
    (
        ["eval", "{model}", "--task", "arithmetic", "--task-option", "oops", "--out", "{tmp}/e"],
        "--task-option",
    ),
    (["eval", "{model}", "--task", "arithmetic", "--teacher", "{tmp}/t", "--out", "{tmp}/e"], "'{tmp}/t'"),
    # sft-distill
    (["sft-distill"], "the following arguments are required: recipe"),
    (["sft-distill", "{binary}"], "is not a UTF-8 text file"),
    (["sft-distill", "{tmp}"], "is a directory"),
    (["sft-distill", "{recipe}", "--samples-per-prompt", "x"], "invalid int value: 'x'"),
    (["sft-distill", "{recipe}", "--samples-per-prompt", "0"], "--samples-per-prompt must be >= 1, got 0"),
    (["sft-distill", "{recipe}", "learning_rate=.nan"], "must be a finite number"),
    (["sft-distill", "{recipe}", "output_dir={file}"], "is a file, not a folder"),
    # compare
    (["compare"], "the following arguments are required: recipe"),
    (["compare", "{listcfg}"], "must be a mapping of keys to values, got list"),
    (["compare", "{recipe}", "--methods", "grpo,ppo"], "unknown method(s) 'ppo'"),
    (["compare", "{recipe}", "--methods", ","], "no methods given"),
    (["compare", "{recipe}", "--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["compare", "{recipe}", "--seeds", "two"], "argument --seeds: invalid int value: 'two'"),
    (["compare", "{recipe}", "--samples-per-prompt", "0"], "--samples-per-prompt must be >= 1"),
    (["compare", "{recipe}", "--out", "{file}"], "is a file, not a folder"),
    # demo
    (["demo", "--lr", "nan"], "--lr must be a finite number > 0, got nan"),
    (["demo", "--lr", "inf"], "--lr must be a finite number > 0, got inf"),
    (["demo", "--lr", "-1"], "--lr must be a finite number > 0, got -1.0"),
    (["demo", "--lr", "0"], "--lr must be a finite number > 0, got 0.0"),
    (["demo", "--steps", "0"], "--steps must be >= 1, got 0"),
    (["demo", "--steps", "-1"], "--steps must be >= 1, got -1"),
    (["demo", "--steps", "1.5"], "argument --steps: invalid int value: '1.5'"),
    (["demo", "--seed", "-2"], "--seed must be >= 0"),
    (["demo", "--out", "{file}"], "--out '{file}' is a file, not a folder"),
    (["demo", "--bogus"], "unrecognized arguments: --bogus"),
    # serve-teacher: argument errors only (its own checks are tested in tests/teacher_backends)
    (["serve-teacher"], "the following arguments are required: model"),
    (["serve-teacher", "{model}", "--port", "http"], "argument --port: invalid int value: 'http'"),
    (["serve-teacher", "{model}", "--dtype", "int3"], "argument --dtype: invalid choice: 'int3'"),
    (["serve-teacher", "{model}", "--max-body-mb", "lots"], "argument --max-body-mb: invalid float value"),
    (["serve-teacher", "{model}", "--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.fixture
def places(tmp_path, recipe_file, tiny_models) -> dict[str, str]:
    """The files the cases name: a good recipe, a binary one, one whose config is a list, a plain file."""
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    listcfg = tmp_path / "listcfg.yaml"
    listcfg.write_text(yaml.safe_dump({"model": "m", "task": "arithmetic", "config": [1, 2]}))
    plain = tmp_path / "plain.txt"
    plain.write_text("not a folder")
    return {
        "recipe": str(recipe_file()),
        "model": str(tiny_models[0]),
        "tmp": str(tmp_path),
        "binary": str(binary),
        "listcfg": str(listcfg),
        "file": str(plain),
    }


def assert_one_line_error(code: int, out: str, err: str, message: str) -> None:
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rlad") and ": error: " in lines[0], err
    assert message in lines[0], err


def _run_in_process(argv: list[str], capsys) -> tuple[int, str, str]:
    from rlad.cli.main import main

    try:
        code = main(argv)
    except SystemExit as done:  # main returns codes itself; this would be a defect, caught as such
        code = f"SystemExit({done.code})"
    out, err = capsys.readouterr()
    return code, out, err


def test_there_are_enough_cases():
    commands = {argv[0] for argv, _ in CASES if argv and not argv[0].startswith("-")}
    assert len(CASES) >= 40
    assert {"train", "eval", "sft-distill", "compare", "demo", "serve-teacher"} <= commands


def _tree(root: Path) -> list[str]:
    """Every file and folder under ``root``, relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a) or "(none)" for a, _ in CASES])
def test_bad_invocation_is_one_line_exit_2(argv, message, places, capsys, tmp_path_factory, monkeypatch):
    """...and leaves nothing behind: not in the current folder (where ``rlad eval``/``compare`` put
    their default ``--out``), not next to the recipe (its ``output_dir``, a ``--out`` under ``{tmp}``)."""
    cwd = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(cwd)
    before = _tree(Path(places["tmp"]))
    filled = [a.format(**places) for a in argv]
    code, out, err = _run_in_process(filled, capsys)
    assert_one_line_error(code, out, err, message.format(**places))
    assert _tree(cwd) == []
    assert _tree(Path(places["tmp"])) == before  # also where the Trainer made output_dir, then failed


def test_nothing_is_written_by_a_refused_demo(places, capsys, tmp_path):
    code, _, _ = _run_in_process(["demo", "--steps", "0", "--out", str(tmp_path / "demo")], capsys)
    assert code == 2 and not (tmp_path / "demo").exists()


def _script() -> str:
    script = shutil.which("rlad", path=str(Path(sys.executable).parent)) or shutil.which("rlad")
    assert script is not None, "the rlad entry point is not installed (pip install -e .)"
    return script


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "{binary}"], "is not a UTF-8 text file"),
        (
            ["eval", "{model}", "--task", "arithmetic", "--temperature", "nan"],
            "--temperature must be a finite",
        ),
        (["demo", "--steps", "0"], "--steps must be >= 1, got 0"),
        (["compare", "{recipe}", "--seeds", "two"], "invalid int value: 'two'"),
    ],
)
def test_the_installed_script(argv, message, places):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [_script(), *(a.format(**places) for a in argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=HANG_GUARD_S,
    )
    assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, message)


PROBE = """
import json, sys
from rlad.cli.main import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "trl", "transformers", "peft", "datasets") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["train", "--help"],
        ["eval", "--help"],
        ["compare", "--help"],
        ["sft-distill", "--help"],
        ["demo", "--help"],
        ["train", "{tmp}/missing.yaml"],
        ["eval", "{model}", "--task", "arithmetic", "--k", "0"],
        ["demo", "--lr", "nan"],
        ["nosuch"],
    ],
)
def test_help_and_argument_errors_load_no_ml_library(argv, places):
    """What makes them answer at once: torch/TRL/Transformers are imported only when work starts."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *(a.format(**places) for a in argv)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], result
    assert result["code"] == (0 if "--help" in argv else 2)
