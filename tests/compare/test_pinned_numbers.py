"""Short runs of the three comparison presets pinned to the numbers the code gave before the merge.

The demo, ``rlad compare`` and the benchmark's quick mode each train a tiny pair (built here from fixed
seeds, not the shipped checkpoints) for two steps and evaluate it; every logged training metric and
every evaluation number must stay what it was (within 1e-6) for the same settings and seeds.

One number changed on purpose: ``rlad compare`` ran KDRL with a constant coefficient (5e-3), the benchmark
annealed it (5e-3 -> 1e-3); the one methods table anneals. So ``compare/kdrl`` differs from before the
merge at step 2 (``kd/beta`` 1e-3 instead of 5e-3, hence ``loss``, ``grad_norm``, ``train_loss``), and
the old numbers are pinned by ``compare_kdrl_constant``: the merged harness with a recipe that asks for
the constant schedule reproduces them exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

TOL = 1e-6
TIMING = ("time", "runtime", "per_second", "_s", "epoch")  # wall-clock and bookkeeping: not pinned


def _fit(model, tokenizer, pairs, steps: int, seed: int) -> None:
    """A few teacher-forced steps on (prompt, answer) pairs, so the pair has mixed rewards (no toy trainer:
    the numbers must not move when the toy builders change)."""
    import random

    import torch

    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        ids, labels = [], []
        for prompt, answer in (rng.choice(pairs) for _ in range(32)):
            p = tokenizer(prompt)["input_ids"]
            a = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            ids.append(p + a)
            labels.append([-100] * len(p) + a)
        width = max(map(len, ids))
        pad = tokenizer.pad_token_id
        batch = torch.tensor([[pad] * (width - len(x)) + x for x in ids])
        target = torch.tensor([[-100] * (width - len(y)) + y for y in labels])
        loss = model(input_ids=batch, attention_mask=(batch != pad).long(), labels=target).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    import torch

    from rlad.demo.models import TASK_OPTIONS
    from rlad.tasks import get_task
    from rlad.toy.models import build_tiny_llama, save_model
    from rlad.toy.tokenizer import build_char_tokenizer

    torch.set_num_threads(1)
    tokenizer = build_char_tokenizer()
    train = get_task("arithmetic", **TASK_OPTIONS).load(split="train")
    pairs = list(zip(train["prompt"], train["reference"]))
    root = tmp_path_factory.mktemp("pinned_pair")
    for role, seed, hidden, steps in (("student", 11, 32, 150), ("teacher", 12, 48, 200)):
        model = build_tiny_llama(tokenizer, hidden_size=hidden, num_layers=1, num_heads=2, seed=seed)
        torch.manual_seed(seed)
        _fit(model, tokenizer, pairs, steps, seed)
        save_model(model, tokenizer, root / role)
    return str(root / "student"), str(root / "teacher")


def _metrics(path) -> list[dict]:
    """Every number of every metrics.jsonl record but the timings, in file order."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    keep = [
        {k: v for k, v in r.items() if isinstance(v, (int, float)) and not any(t in k for t in TIMING)}
        for r in records
    ]
    return [r for r in keep if len(r) > 1]


def _overall(summary: dict) -> list[float]:
    return [summary["overall"]["mean_at_k"], summary["overall"]["pass_at_k"]]


def _close(got, want, where="") -> None:
    if isinstance(want, dict):
        assert set(got) == set(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for key in want:
            _close(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), f"{where}: {len(got)} items, pinned {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert math.isclose(got, want, abs_tol=TOL), f"{where}: {got!r} != pinned {want!r}"
    else:
        assert got == want, f"{where}: {got!r} != pinned {want!r}"


def demo_numbers(pair, out) -> dict:
    from rlad.demo.run import DemoSettings, run_demo

    student, teacher = pair
    settings = DemoSettings(
        out_dir=out, steps=2, eval_every=1, eval_problems=4, ood_problems=2, k=2,
        extra_config={"per_device_train_batch_size": 8, "num_generations": 4}, student=student, teacher=teacher,
    )  # fmt: skip
    summary = run_demo(settings)
    return {
        "mean_at_k": summary["mean_at_k"],
        "pass_at_k": summary["pass_at_k"],
        **{m: _metrics(out / m / "metrics.jsonl") for m in ("grpo", "rlad")},
    }


def compare_recipe(pair):
    from rlad.demo.models import TASK_OPTIONS
    from rlad.run.recipes import Recipe

    student, teacher = pair
    config = {
        "teacher_model": teacher, "max_steps": 2, "learning_rate": 1e-3, "num_generations": 4,
        "per_device_train_batch_size": 8, "max_completion_length": 24, "temperature": 1.0,
        "logging_steps": 1, "save_strategy": "no", "report_to": "none", "seed": 3,
        "gradient_checkpointing": False,
    }  # fmt: skip
    return Recipe(
        model=student, task="arithmetic", task_options=dict(TASK_OPTIONS), eval_limit=4, eval_every=1, eval_k=2,
        config=config,
    )  # fmt: skip


def compare_numbers(pair, out, methods=("grpo", "kdrl", "rlad"), **config) -> dict:
    from rlad.compare.recipe import run_compare

    recipe = compare_recipe(pair)
    recipe = dataclasses.replace(recipe, config={**recipe.config, **config})
    result = run_compare(recipe, list(methods), 1, out, log=lambda _: None)
    numbers = {name: _overall(s) for name, s in result.references.items()}
    for done in result.runs:
        numbers[done["method"]] = {"eval": _overall(done["eval"]), "metrics": _metrics(done["metrics"])}
    return numbers


def bench_specs(pair, out):
    from benchmarks.settings import QUICK, Family, bench_references, bench_run
    from rlad.demo.models import TASK_OPTIONS

    student, teacher = pair
    family = Family("math", "arithmetic", dict(TASK_OPTIONS), student, teacher, 24, "ood", "ood_ops4")
    mode = dataclasses.replace(
        QUICK,
        k=2,
        prompts_per_step=2,
        num_generations=4,
        eval_limit=4,
        ood_limit=2,
        eval_every=1,
        train_limit=16,
    )
    return [
        ("reference/reference", bench_references(family, mode, out)[0]),
        *((f"{phase}/{m}", bench_run(family, mode, out, phase, m, m, 0, 1e-3, 2))
          for phase, m in (("main", "grpo"), ("main", "kdrl"), ("lr_search", "rlad"))),
    ]  # fmt: skip


def bench_numbers(pair, out) -> dict:
    from rlad.compare.runs import run_one

    numbers = {}
    for key, spec in bench_specs(pair, out):
        done = run_one(spec)
        numbers[key] = {
            "eval": _overall(done["eval"]) if "eval" in done else None,
            "step0": done.get("step0_validation"),
            "metrics": _metrics(done["metrics"]) if "metrics" in done else None,
        }
    return numbers


# Recorded with the code before the merge (commit c7aa40a + the working tree of 2026-11-30 01:40 UTC).
PINNED = json.loads((Path(__file__).with_name("pinned_numbers.json")).read_text())


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["demo", "compare", "bench"])
def test_short_run_numbers_are_pinned(preset, pair, tmp_path):
    got = {"demo": demo_numbers, "compare": compare_numbers, "bench": bench_numbers}[preset](pair, tmp_path)
    _close(got, PINNED[preset], preset)


@pytest.mark.slow
def test_a_recipe_can_still_ask_for_the_constant_kdrl_coefficient(pair, tmp_path):
    """The methods table's KDRL settings are defaults under the recipe: the pre-merge constant run comes back."""
    got = compare_numbers(pair, tmp_path, ("kdrl",), kd_schedule="constant", kd_beta_end=None)
    assert set(got) == {"student_before", "teacher", "kdrl"}
    _close({"kdrl": got["kdrl"]}, PINNED["compare_kdrl_constant"], "compare_kdrl_constant")
    assert got["kdrl"] != PINNED["compare"]["kdrl"]
