"""The logic family's pair goes through the one pair builder: a few steps, the student a checkpoint of
the teacher's run, ``pair.json`` reused. Budgets are steps, so the run is the same on a busy machine."""

import json
import sys

import pytest

from benchmarks.logic import MAX_COMPLETION_LENGTH, RECIPE, STUDENT_BAND, TASK_OPTIONS, build_pair, main
from rlad.run.models import load_model

SMALL = {
    "train_sets": (({"n_people": [3]}, 60), ({"n_people": [4]}, 60)),
    "hidden_size": 32,
    "num_layers": 1,
    "steps": 6,
    "probe_every": 3,
    "probe_prompts": 6,
    "probe_k": 1,
    "eval_k": 1,
    "max_new_tokens": 16,
    "student_target": 0.0,  # the first probe is the student
}


def test_logic_pair_is_two_checkpoints_of_one_run_and_is_reused(tmp_path):
    summary = build_pair(tmp_path, **SMALL)
    assert json.loads((tmp_path / "pair.json").read_text()) == summary
    assert summary["recipe"]["task"] == "kk_synthetic" and summary["recipe"]["task_options"] == TASK_OPTIONS
    assert summary["train_problems"] == [60, 60] and summary["test_problems"] == 200  # 100 per size
    assert (summary["student"]["step"], summary["teacher"]["step"]) == (3, 6)
    assert set(summary["teacher"]["per_subset"]) == {"ppl3", "ppl4"}
    for role in ("teacher", "student"):
        origin = json.loads((tmp_path / role / "checkpoint.json").read_text())
        assert origin["run_id"] == summary["run_id"] and origin["step"] == summary[role]["step"]
        model, tokenizer, _ = load_model(str(tmp_path / role))
        assert model.config.eos_token_id == tokenizer.eos_token_id
    assert summary["usable"] is False  # six steps make no teacher
    assert build_pair(tmp_path) == summary  # pair.json is reused, nothing is trained again


def test_the_recipe_and_the_command_line():
    assert RECIPE.max_new_tokens == MAX_COMPLETION_LENGTH == 144 and STUDENT_BAND == (0.2, 0.5)
    assert RECIPE.steps == 1750 and RECIPE.train_sets[0] == ({"n_people": [3]}, 3414)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["logic", "--steps", "0"])
        with pytest.raises(SystemExit):
            main()
