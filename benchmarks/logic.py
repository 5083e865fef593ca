"""Tiny teacher and student for the logic family: chain Knights-and-Knaves (``kk_synthetic``, ``style="chain"``).

The logic family needs its own pair: a character-level teacher strong enough to be worth distilling
(target Mean@4 >= 0.85 on held-out in-distribution puzzles) and a weaker student whose RL groups have
mixed rewards (Mean@4 between 0.2 and 0.5). Both are supervised runs of the same shape and recipe on
the task's ``reference`` completions of the *train* split (never a test puzzle): the teacher trains for
a fixed time; the student is probed every few steps and stops once a probe reaches 0.3, well inside the
band (when that probe overshoots the band, the last checkpoint inside it is kept)::

    python -m benchmarks.logic --out benchmarks/runs/logic_models --teacher-seconds 900

Why chain puzzles: a first attempt on plain compact puzzles (answer only, ``A:B&!C;B:A>C;C:!A|B?`` ->
``A=n,B=k,C=k``, 3-5 people) reached only 0.127 held-out Mean@4 after 420 s with the same shape: a 4-layer
model cannot search 2^n assignments in one pass. In a chain puzzle every person after A speaks only about
earlier people, so a two-case scratchpad solves it (`rlad.tasks.kk_chain`), one lookup per step.

Training sizes are 3-4 people (2-person chain puzzles number about 40, too few to split); the ``ood``
split holds 5- and 6-person puzzles, longer chains than any seen in training. ``pair.json`` records the
run, the probes and whether the target was reached.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

TASK_OPTIONS: dict[str, Any] = {"style": "chain", "n_people": [3, 4], "ood_people": [5, 6]}
MAX_COMPLETION_LENGTH = 144  # the longest 6-person traces are about 141 characters, then <eos>
SHAPE = {"hidden_size": 128, "num_layers": 4, "num_heads": 4}
SEED = 0
BATCH_SIZE, LEARNING_RATE = 32, 1e-3  # measured: 3x the progress per second of batch 128 at 2e-3
TEACHER_TARGET = 0.85
STUDENT_BAND = (0.2, 0.5)  # mixed rewards: neither almost always wrong nor almost always right
STUDENT_STOP = 0.3  # the student run stops at its first probe at or above this (a first try stopped at 0.20)
# Distinct train puzzles per size: every 3-person chain puzzle of the train split (3760 have a unique
# solution, 346 of them are test puzzles) and a sample of the far larger 4-person space.
TRAIN_PUZZLES = {3: 3414, 4: 30_000}
PROBE_PUZZLES = 200  # in-distribution test puzzles per probe


def logic_task(**overrides: Any):
    from rlad.tasks import get_task

    return get_task("kk_synthetic", **{**TASK_OPTIONS, **overrides})


def train_pairs(n_people: int, count: int) -> list[tuple[str, str]]:
    """(prompt, reference) of ``count`` distinct train-split puzzles with ``n_people`` people."""
    train = logic_task(n_people=[n_people]).load(split="train", limit=count)
    return list(zip(train["prompt"], train["reference"]))


def probe_accuracy(model: Any, tokenizer: Any, rows: list[dict], k: int = 4, seed: int = 0) -> float:
    """Mean@k (temperature 0.6, top-p 0.95) of ``model`` on ``rows``: the benchmark's eval sampling."""
    from rlad.eval import HFBackend, evaluate

    backend = HFBackend(model, tokenizer, batch_size=100, show_progress=False)
    report = evaluate(
        backend,
        logic_task(),
        rows,
        k=k,
        max_new_tokens=MAX_COMPLETION_LENGTH,
        temperature=0.6,
        top_p=0.95,
        seed=seed,
        greedy=False,
        show_progress=False,
    )
    return report.overall.mean_at_k


def build_model(
    role: str,
    out_dir: Path,
    *,
    seconds: float | None,
    max_steps: int,
    probe_every: int,
    stop_at: float | None,
    train_puzzles: dict[int, int],
    probe_puzzles: int,
) -> dict[str, Any]:
    """One supervised run into ``out_dir/role``, with test probes; its facts go to ``role/build.json``.

    Reused when ``build.json`` exists. ``stop_at``: stop at the first probe that reaches it; should that
    probe have overshot `STUDENT_BAND`, the last checkpoint probed inside the band is saved instead.
    """
    import copy

    from rlad.toy.models import build_tiny_llama, count_parameters, save_model
    from rlad.toy.sft import train_on_pairs
    from rlad.toy.tokenizer import build_char_tokenizer

    facts_path = out_dir / role / "build.json"
    if facts_path.is_file():
        return json.loads(facts_path.read_text())
    tokenizer = build_char_tokenizer()
    t0 = time.time()
    by_size = [train_pairs(n, count) for n, count in train_puzzles.items()]
    probe_rows = [dict(r) for r in logic_task().load(split="test", limit=probe_puzzles, seed=1234)]
    data_seconds = time.time() - t0
    model = build_tiny_llama(tokenizer, seed=SEED, **SHAPE)
    probes: list[tuple[int, float]] = []
    in_band: tuple[int, float, dict] | None = None  # the last probe inside the band, with its weights

    def sample_pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
        return [rng.choice(rng.choice(by_size)) for _ in range(n)]  # sizes equally often

    def probe(step: int) -> bool:
        nonlocal in_band
        accuracy = round(probe_accuracy(model, tokenizer, probe_rows), 4)
        probes.append((step, accuracy))
        print(f"logic {role}: step {step} test Mean@4 {accuracy:.3f}", flush=True)
        if STUDENT_BAND[0] <= accuracy <= STUDENT_BAND[1]:
            in_band = (step, accuracy, copy.deepcopy(model.state_dict()))
        return stop_at is not None and accuracy >= stop_at

    stats = train_on_pairs(
        model,
        tokenizer,
        sample_pairs,
        steps=max_steps,
        time_limit_s=seconds,
        batch_size=BATCH_SIZE,
        lr=LEARNING_RATE,
        decay_start=0.7,  # peak rate for 70% of the budget, then cosine decay
        seed=SEED,
        progress=False,
        description=f"logic {role}",
        callback=probe,
        callback_every=probe_every,
    )
    if not probes or probes[-1][0] != stats["steps"]:
        probe(stats["steps"])
    saved = probes[-1]
    if stop_at is not None and saved[1] > STUDENT_BAND[1] and in_band is not None:
        model.load_state_dict(in_band[2])
        saved = in_band[:2]
    save_model(model, tokenizer, out_dir / role)
    facts = {
        "role": role,
        "shape": SHAPE,
        "parameters": count_parameters(model),
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "train_puzzles": {str(n): len(p) for n, p in zip(train_puzzles, by_size)},
        "probe_puzzles": len(probe_rows),
        "data_seconds": round(data_seconds, 1),
        "train_seconds": round(stats["seconds"], 1),
        "probe_seconds": round(stats["callback_seconds"], 1),
        "steps": stats["steps"],
        "final_loss": round(stats["final_loss"], 4),
        "probes": probes,
        "saved_step": saved[0],
        "mean_at_4": saved[1],
    }
    facts_path.write_text(json.dumps(facts, indent=1) + "\n")
    return json.loads(facts_path.read_text())


def build_pair(
    out_dir: Path,
    seconds: float,
    probe_every: int = 300,
    train_puzzles: dict[int, int] | None = None,
    probe_puzzles: int = PROBE_PUZZLES,
    student_probe_every: int = 25,
    student_max_steps: int = 1000,
) -> dict[str, Any]:
    """The teacher (``seconds`` of training) and the student (the same recipe, stopped at the first probe
    in `STUDENT_BAND`, every ``student_probe_every`` steps); ``pair.json`` says whether both hit their marks.

    ``train_puzzles`` (default `TRAIN_PUZZLES`) and ``probe_puzzles`` exist to make tests small.
    """
    summary_path = out_dir / "pair.json"
    if summary_path.is_file():
        return json.loads(summary_path.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    common = {
        "train_puzzles": dict(TRAIN_PUZZLES if train_puzzles is None else train_puzzles),
        "probe_puzzles": probe_puzzles,
    }
    teacher = build_model(
        "teacher", out_dir, seconds=seconds, max_steps=100_000, probe_every=probe_every, stop_at=None,
        **common,
    )  # fmt: skip
    student = build_model(
        "student", out_dir, seconds=None, max_steps=student_max_steps, probe_every=student_probe_every,
        stop_at=STUDENT_STOP, **common,
    )  # fmt: skip
    low, high = STUDENT_BAND
    summary = {
        "task_options": TASK_OPTIONS,
        "target": TEACHER_TARGET,
        "student_band": STUDENT_BAND,
        "teacher": teacher,
        "student": student,
        "usable": teacher["mean_at_4"] >= TEACHER_TARGET and low <= student["mean_at_4"] <= high,
    }
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    return json.loads(summary_path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/runs/logic_models"))
    parser.add_argument(
        "--teacher-seconds", type=float, default=900.0, help="training time (probes excluded)"
    )
    parser.add_argument("--probe-every", type=int, default=300, help="steps between test probes")
    args = parser.parse_args()
    if args.teacher_seconds <= 0 or args.probe_every < 1:
        parser.error(
            f"need --teacher-seconds > 0 and --probe-every >= 1, got {args.teacher_seconds} and {args.probe_every}"
        )
    print(json.dumps(build_pair(args.out, args.teacher_seconds, args.probe_every), indent=1))


if __name__ == "__main__":
    main()
