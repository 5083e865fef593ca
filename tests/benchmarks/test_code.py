"""The code family's model build end to end on a few seconds of training (the accuracy is not checked)."""

import json

from benchmarks.code import STUDENT_RANGE, TEACHER_TARGET, build_pair


def test_code_build_writes_its_facts(tmp_path):
    summary = build_pair(tmp_path, 3.0, probes=2, probe_problems=4, test_problems=8, k=2, train_problems=200)
    assert (tmp_path / "pair.json").is_file() and (tmp_path / "teacher" / "config.json").is_file()
    assert summary["target"] == TEACHER_TARGET and summary["student_range"] == list(STUDENT_RANGE)
    assert isinstance(summary["usable"], bool) and 0.0 <= summary["teacher_mean"] <= 1.0

    facts = json.loads((tmp_path / "build.json").read_text())
    assert facts["task"] == "code_synthetic" and facts["parameters"] > 0 and facts["k"] == 2
    assert (facts["train_problems"], facts["test_problems"], facts["probe_problems"]) == (200, 8, 4)
    assert 0 < facts["teacher"]["train_seconds"] < 10 and facts["teacher"]["steps"] > 0
    assert facts["sandbox_completions_per_s"] > 0
    assert 0 < facts["prompt_chars"]["min"] <= facts["prompt_chars"]["mean"] <= facts["prompt_chars"]["max"]
    assert facts["completion_chars"]["max"] <= 32  # MAX_NEW_TOKENS leaves room for every reference
    assert facts["probes"], "at least one probe during training"
    for probe in facts["probes"]:
        assert probe["step"] > 0 and 0 < probe["seconds"] <= 3.5 and 0.0 <= probe["mean"] <= 1.0
        assert set(probe["per_subset"]) <= {"ops1", "ops2"}
    test = facts["teacher"]["test"]
    assert 0.0 <= test["mean"] <= 1.0 and 0 <= test["sandbox_runs"] <= 8 * 2

    again = build_pair(tmp_path, 3.0)  # reuses pair.json instead of training again
    assert again == summary
