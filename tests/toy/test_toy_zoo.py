"""The toy zoo: a fast teacher/student pair that is measurably ordered, cached, loadable."""

import json
import random
import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlad.registry import UnknownNameError
from rlad.toy.evaluate import accuracy
from rlad.toy.zoo import PROFILES, ToyPairConfig, get_toy_pair, resolve_toy_model


@pytest.fixture(scope="module")
def fast_pair(tmp_path_factory):
    cache = tmp_path_factory.mktemp("toy_cache")
    start = time.perf_counter()
    pair = get_toy_pair("arithmetic", profile="fast", cache_dir=cache, progress=False)
    return pair, cache, time.perf_counter() - start


def test_fast_pair_teacher_beats_student(fast_pair):
    pair, _, seconds = fast_pair
    print(
        f"fast pair: teacher {pair.teacher_accuracy:.3f}, student {pair.student_accuracy:.3f}, {seconds:.1f}s"
    )
    assert pair.teacher_accuracy >= 0.5
    assert pair.student_accuracy <= 0.3
    assert pair.teacher_accuracy > pair.student_accuracy + 0.3
    assert pair.stats["student_step"] < pair.stats["teacher_steps"]


def test_saved_models_load_offline_and_reproduce_the_measurement(fast_pair):
    pair, _, _ = fast_pair
    teacher = AutoModelForCausalLM.from_pretrained(pair.teacher_path)
    student = AutoModelForCausalLM.from_pretrained(pair.student_path)
    tokenizer = AutoTokenizer.from_pretrained(pair.student_path)
    # Same tokenizer, different embedding padding (like Qwen2.5 students and teachers).
    assert AutoTokenizer.from_pretrained(pair.teacher_path).get_vocab() == tokenizer.get_vocab()
    assert teacher.config.vocab_size > student.config.vocab_size >= len(tokenizer)
    assert pair.stats["vocab_sizes"] == {
        "teacher": teacher.config.vocab_size,
        "student": student.config.vocab_size,
    }
    # A fresh greedy measurement on new problems keeps the order.
    task = pair.task
    probe = task.sample_pairs(100, random.Random(99))
    kwargs = {"max_new_tokens": task.max_completion_chars() + 1}
    assert accuracy(teacher, tokenizer, probe, task.check, **kwargs) > accuracy(
        student, tokenizer, probe, task.check, **kwargs
    )
    # Training pushed the padded rows down: sampling at temperature 1 never picks an id the tokenizer lacks.
    batch = tokenizer([p for p, _ in probe[:32]], padding=True, return_tensors="pt")  # (32, T)
    torch.manual_seed(0)
    sampled = teacher.generate(**batch, max_new_tokens=12, do_sample=True, temperature=1.0, top_k=0)
    assert int(sampled.max()) < len(tokenizer)
    ids = tokenizer(["3+4="], return_tensors="pt")
    out = teacher.generate(**ids, max_new_tokens=12, do_sample=False)
    assert tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).startswith("3+4=")


def test_cache_is_reused(fast_pair):
    pair, cache, _ = fast_pair
    stamp = (pair.teacher_path.parent / "pair.json").stat().st_mtime_ns
    start = time.perf_counter()
    again = get_toy_pair("arithmetic", profile="fast", cache_dir=cache, progress=False)
    assert time.perf_counter() - start < 5
    assert again.teacher_path == pair.teacher_path and again.teacher_accuracy == pair.teacher_accuracy
    assert (again.teacher_path.parent / "pair.json").stat().st_mtime_ns == stamp
    meta = json.loads((pair.teacher_path.parent / "pair.json").read_text())
    assert meta["config"]["task_options"] == {"min_operands": 2, "max_operands": 2, "max_digits": 1}
    assert resolve_toy_model("arithmetic/student@fast", cache_dir=cache) == pair.student_path
    assert torch.equal(
        AutoModelForCausalLM.from_pretrained(
            resolve_toy_model("arithmetic/teacher@fast", cache_dir=cache)
        ).lm_head.weight,
        AutoModelForCausalLM.from_pretrained(pair.teacher_path).lm_head.weight,
    )


def test_a_different_recipe_gets_a_different_cache_key():
    base = PROFILES["fast"]
    assert base.cache_key() == ToyPairConfig(**{**base.__dict__}).cache_key()
    assert base.cache_key() != ToyPairConfig(**{**base.__dict__, "seed": 1}).cache_key()
    assert PROFILES["default"].cache_key() != base.cache_key()


def test_training_sampler_mixes_in_easy_problems():
    config = PROFILES["default"]
    assert config.easy_fraction == 0.5 and config.easy_options == {"max_operands": 2}
    pairs = config.training_sampler()(64, random.Random(0))
    n_ops = [sum(prompt.count(op) for op in "+-*") for prompt, _ in pairs]
    assert n_ops[:32] == [1] * 32  # the easy half: two operands
    assert set(n_ops[32:]) == {1, 2}  # the rest: the task itself, 2 or 3 operands
    assert all(config.make_task().check(completion, prompt) for prompt, completion in pairs)


def test_bad_specs_and_options_fail_with_the_valid_names(tmp_path):
    with pytest.raises(ValueError, match="<task>/<role>"):
        resolve_toy_model("arithmetic/referee", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="valid profiles: default, fast"):
        get_toy_pair("arithmetic", profile="huge", cache_dir=tmp_path)
    with pytest.raises(UnknownNameError, match="valid names: arithmetic"):
        get_toy_pair("chess", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="teacher_vocab_size"):
        ToyPairConfig(student_vocab_size=128, teacher_vocab_size=96)
    with pytest.raises(ValueError, match="student_target"):
        ToyPairConfig(student_target=1.5)
    with pytest.raises(ValueError, match="anneal_at"):
        ToyPairConfig(student_target=0.4, anneal_at=0.3)
    with pytest.raises(ValueError, match="easy_fraction"):
        ToyPairConfig(easy_fraction=2.0)
    assert list(tmp_path.iterdir()) == [] or all(p.name.startswith(".") for p in tmp_path.iterdir())
