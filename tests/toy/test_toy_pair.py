"""The pair builder on budgets of a few steps: the student is a checkpoint of the teacher's own run, and
every notion of "correct" (training data, probes, Mean@k) is the task's own ``score``."""

import dataclasses
import json

import pytest
import torch
from transformers import AutoModelForCausalLM

import rlad.toy.pair as pair_module
from rlad.registry import UnknownNameError
from rlad.tasks.arithmetic import ArithmeticTask
from rlad.tasks.base import Score
from rlad.toy.pair import PairRecipe, build_pair, recipe_from_json, verified_train_sets
from rlad.toy.zoo import recipe_for

TINY = dataclasses.replace(
    recipe_for("arithmetic", "fast"),
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    steps=6,
    batch_size=8,
    probe_every=2,
    probe_prompts=4,
    probe_k=2,
    eval_k=2,
    max_new_tokens=8,
    student_target=0.0,  # the first probe (step 2) is the student
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build TINY once, recording the run's weights at every probe and at the end."""
    out = tmp_path_factory.mktemp("pair")
    states = {}
    real_train = pair_module.train_on_pairs

    def recording_train(model, *args, callback, **kwargs):
        def spy(step):
            states[step] = {k: v.clone() for k, v in model.state_dict().items()}
            return callback(step)

        result = real_train(model, *args, callback=spy, **kwargs)
        states["end"] = {k: v.clone() for k, v in model.state_dict().items()}
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pair_module, "train_on_pairs", recording_train)
        summary = build_pair(TINY, out, progress=False)
    return out, summary, states


def test_student_is_an_earlier_checkpoint_of_the_teachers_run(built):
    out, summary, states = built
    origins = {
        role: json.loads((out / role / "checkpoint.json").read_text()) for role in ("teacher", "student")
    }
    assert origins["teacher"]["run_id"] == origins["student"]["run_id"] == summary["run_id"] == TINY.run_id()
    assert (origins["student"]["step"], origins["teacher"]["step"]) == (2, 6)
    assert (summary["student"]["step"], summary["teacher"]["step"]) == (2, 6)
    assert summary["probes"] == [
        [2, summary["student"]["probe"]]
    ]  # no probe needed once the student is found
    assert sorted(k for k in states if k != "end") == [2, 4, 6]

    student = AutoModelForCausalLM.from_pretrained(out / "student")
    teacher = AutoModelForCausalLM.from_pretrained(out / "teacher")
    assert (student.config.vocab_size, teacher.config.vocab_size) == (96, 128)  # padded rows cut
    for name, saved in student.state_dict().items():
        at_step_2 = states[2][name]
        assert torch.equal(saved, at_step_2[: saved.shape[0]]), name  # the run's weights at step 2
    for name, saved in teacher.state_dict().items():
        assert torch.equal(saved, states["end"][name]), name
    assert not torch.equal(states[2]["model.norm.weight"], states["end"]["model.norm.weight"])
    assert recipe_from_json(summary["recipe"]) == TINY
    assert summary["usable"] is False  # six steps make no teacher


def test_data_probes_and_mean_at_k_all_use_the_tasks_score(tmp_path, monkeypatch):
    # A verifier that accepts only subtractions: '+' references are dropped from training, and every
    # sampled completion of a '-' problem counts as correct whatever it says.
    def only_minus(self, completion, example):
        prompt = example["prompt"]
        return Score(float("-" in prompt), correct="-" in prompt)

    monkeypatch.setattr(ArithmeticTask, "score", only_minus)
    (train,) = verified_train_sets(TINY)
    assert train and all("-" in prompt and "+" not in prompt for prompt, _ in train)

    summary = build_pair(dataclasses.replace(TINY, probe_prompts=1000, eval_k=1), tmp_path, progress=False)
    rows = [dict(r) for r in TINY.make_task().load(split="test")]
    minus_share = sum("-" in r["prompt"] for r in rows) / len(rows)
    assert summary["test_problems"] == len(rows)
    assert summary["teacher"]["mean_at_k"] == summary["student"]["mean_at_k"] == round(minus_share, 4)
    assert summary["probes"] == [[2, round(minus_share, 4)]]


def test_a_target_no_probe_reaches_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(ArithmeticTask, "score", lambda self, c, ex: Score(1.0, correct=c == ex["reference"]))
    never = dataclasses.replace(TINY, steps=4, student_target=0.99)
    with pytest.raises(RuntimeError, match="student_target=0.99"):
        build_pair(never, tmp_path, progress=False)


def test_bad_recipes_name_the_bad_value():
    with pytest.raises(UnknownNameError, match="arithmetic"):
        PairRecipe(task="chess")
    with pytest.raises(ValueError, match="student_target"):
        dataclasses.replace(TINY, student_target=1.5)
    with pytest.raises(ValueError, match="anneal_at"):
        dataclasses.replace(TINY, student_target=0.4, anneal_at=0.3)
    with pytest.raises(ValueError, match="teacher_vocab_size"):
        dataclasses.replace(TINY, student_vocab_size=128, teacher_vocab_size=96)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        dataclasses.replace(TINY, steps=0)
    assert TINY.run_id() != dataclasses.replace(TINY, seed=1).run_id()
    assert TINY.run_id() == dataclasses.replace(TINY).run_id()
