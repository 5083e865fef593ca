"""``rlad train`` on a tiny recipe: metrics, periodic evaluation, checkpoints, and ``--resume``."""

from __future__ import annotations

import json


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_train_then_resume(rlad_cli, recipe_file, tmp_path):
    path = recipe_file()
    run = tmp_path / "run"
    code, out, err = rlad_cli("train", path)
    assert code == 0, err
    assert f"final model in {run / 'final'}" in out
    assert "'loss'" not in out + err and "train: 100%" in err  # one progress bar, no metric dictionaries
    records = _records(run / "metrics.jsonl")
    assert max(r["step"] for r in records if "loss" in r) == 3
    assert [r["step"] for r in records if "eval/mean_at_k" in r] == [2, 3]  # eval_every=2, and at the end
    assert any(k.startswith("regime/") for r in records for k in r)
    assert (run / "checkpoint-2").is_dir() and (run / "checkpoint-3").is_dir()
    assert (run / "final" / "config.json").is_file()

    code, out, err = rlad_cli("train", path, "max_steps=5", "--resume", "--verbose")
    assert code == 0, err
    assert "'loss'" in out + err  # --verbose: the Trainer's per-step dictionaries are back
    steps = [r["step"] for r in _records(run / "metrics.jsonl") if "loss" in r]
    assert steps[-2:] == [4, 5]  # continued from checkpoint-3, not from scratch
    assert (run / "checkpoint-5").is_dir()
    state = json.loads((run / "checkpoint-5" / "trainer_state.json").read_text())
    assert state["global_step"] == 5


def test_resume_without_checkpoint_is_a_user_error(rlad_cli, recipe_file):
    code, _, err = rlad_cli("train", recipe_file(), "--resume")
    assert code == 2 and "Traceback" not in err
    assert "--resume: no checkpoint-* folder in" in err
