"""The logic family's teacher / student build end to end on a few seconds of training (accuracy not checked)."""

import json

from benchmarks.logic import STUDENT_BAND, TEACHER_TARGET, build_pair
from rlad.models import load_model


def test_logic_build_writes_its_facts_and_is_reused(tmp_path):
    small = {"train_puzzles": {3: 60, 4: 60}, "probe_puzzles": 6}
    summary = build_pair(tmp_path, 2.0, probe_every=5, student_probe_every=4, student_max_steps=8, **small)
    assert json.loads((tmp_path / "pair.json").read_text()) == summary
    assert summary["target"] == TEACHER_TARGET and tuple(summary["student_band"]) == STUDENT_BAND
    teacher, student = summary["teacher"], summary["student"]
    assert teacher["train_puzzles"] == {"3": 60, "4": 60} and teacher["probe_puzzles"] == 6
    assert teacher["steps"] > 0 and 0 < teacher["train_seconds"] < 5
    assert student["steps"] <= 8 and [s for s, _ in student["probes"]][:2] == [4, 8][: len(student["probes"])]
    for facts in (teacher, student):
        steps = [step for step, _ in facts["probes"]]
        assert steps == sorted(steps) and steps[-1] == facts["steps"]
        assert all(0.0 <= accuracy <= 1.0 for _, accuracy in facts["probes"])
        assert [facts["saved_step"], facts["mean_at_4"]] in facts["probes"]
        model, tokenizer, _ = load_model(str(tmp_path / facts["role"]))
        assert model.config.eos_token_id == tokenizer.eos_token_id
    assert summary["usable"] is False  # a model this young is far below the teacher's target
    assert build_pair(tmp_path, 2.0) == summary  # pair.json is reused, nothing is trained again
