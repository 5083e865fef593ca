"""The toy zoo: the fast pair is measurably ordered, cached by run id, loadable as ``toy:`` specs."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import rlad.toy.zoo as zoo
from rlad.toy.pair import eval_report
from rlad.toy.zoo import PROFILES, get_toy_pair, recipe_for, resolve_toy_model


@pytest.fixture(scope="module")
def fast_pair(tmp_path_factory):
    cache = tmp_path_factory.mktemp("toy_cache")
    return get_toy_pair("arithmetic", profile="fast", cache_dir=cache, progress=False), cache


def test_fast_pair_teacher_beats_its_own_earlier_checkpoint(fast_pair):
    pair, _ = fast_pair
    print(f"fast pair: teacher {pair.teacher_accuracy:.3f}, student {pair.student_accuracy:.3f}")
    assert pair.teacher_accuracy >= 0.5 and pair.student_accuracy <= 0.3
    assert pair.teacher_accuracy > pair.student_accuracy + 0.3
    assert (
        0
        < pair.facts["student"]["step"]
        < pair.facts["teacher"]["step"]
        == PROFILES["arithmetic"]["fast"].steps
    )
    assert pair.facts["run_id"] == PROFILES["arithmetic"]["fast"].run_id()


def test_saved_models_load_offline_and_keep_their_order(fast_pair):
    pair, _ = fast_pair
    teacher = AutoModelForCausalLM.from_pretrained(pair.teacher_path)
    student = AutoModelForCausalLM.from_pretrained(pair.student_path)
    tokenizer = AutoTokenizer.from_pretrained(pair.student_path)
    # Same tokenizer, different embedding padding (like Qwen2.5 students and teachers).
    assert AutoTokenizer.from_pretrained(pair.teacher_path).get_vocab() == tokenizer.get_vocab()
    assert teacher.config.vocab_size == 128 and student.config.vocab_size == 96 >= len(tokenizer)
    # A fresh measurement (other samples) through the task's own verifier keeps the order.
    task, rows = pair.task, [dict(r) for r in pair.task.load(split="test")]
    fresh = {
        role: eval_report(model, tokenizer, task, rows, pair.recipe, k=4, seed=99).overall.mean_at_k
        for role, model in (("teacher", teacher), ("student", student))
    }
    assert fresh["teacher"] > fresh["student"] + 0.2, fresh
    # Training pushed the padded rows down: sampling at temperature 1 never picks an id the tokenizer lacks.
    batch = tokenizer([r["prompt"] for r in rows[:32]], padding=True, return_tensors="pt")  # (32, T)
    torch.manual_seed(0)
    sampled = teacher.generate(**batch, max_new_tokens=12, do_sample=True, temperature=1.0, top_k=0)
    assert int(sampled.max()) < len(tokenizer)
    ids = tokenizer(["3+4="], return_tensors="pt")
    out = teacher.generate(**ids, max_new_tokens=12, do_sample=False)
    assert tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).startswith("3+4=")


def test_cache_is_reused(fast_pair, monkeypatch):
    pair, cache = fast_pair
    stamp = (pair.folder / "pair.json").stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("a cached pair was trained again")

    monkeypatch.setattr(zoo, "build_pair", no_training)  # reuse means no build, however fast
    again = get_toy_pair("arithmetic", profile="fast", cache_dir=cache, progress=False)
    assert again.folder == pair.folder and again.teacher_accuracy == pair.teacher_accuracy
    assert again.recipe == PROFILES["arithmetic"]["fast"]
    assert (pair.folder / "pair.json").stat().st_mtime_ns == stamp
    meta = json.loads((pair.folder / "pair.json").read_text())
    assert meta["recipe"]["task_options"] == {"min_operands": 2, "max_operands": 2, "max_digits": 1}
    assert resolve_toy_model("arithmetic/student@fast", cache_dir=cache) == pair.student_path
    assert resolve_toy_model("arithmetic/teacher@fast", cache_dir=cache) == pair.teacher_path


def test_recipes_and_their_run_ids():
    fast = PROFILES["arithmetic"]["fast"]
    assert recipe_for("arithmetic", "fast") == fast and recipe_for("arithmetic", "fast", seed=1).seed == 1
    assert recipe_for("arithmetic", "fast", seed=1).run_id() != fast.run_id()
    assert len({r.run_id() for profiles in PROFILES.values() for r in profiles.values()}) == 3
    assert {r.task for profiles in PROFILES.values() for r in profiles.values()} == {
        "arithmetic",
        "kk_synthetic",
    }


def test_bad_specs_fail_with_the_valid_names(tmp_path):
    with pytest.raises(ValueError, match="<task>/<role>"):
        resolve_toy_model("arithmetic/referee", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="valid profiles: default, fast"):
        get_toy_pair("arithmetic", profile="huge", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="valid tasks: arithmetic, kk_synthetic"):
        get_toy_pair("chess", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="student_target"):
        recipe_for("arithmetic", student_target=1.5)
    assert list(tmp_path.iterdir()) == []
