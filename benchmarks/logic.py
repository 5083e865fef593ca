"""Tiny teacher and student for compact Knights-and-Knaves (``kk_synthetic``, ``style="compact"``).

The logic family of the benchmark needs its own pair: a character-level teacher strong enough to be
worth distilling (target Mean@k >= 0.8 on held-out puzzles) and a weaker student whose RL groups have
mixed rewards. Both are trained with :func:`rlad.toy.sft.train_on_pairs` on the task's ``reference``
completions of the *train* split only, under a wall-clock limit, and probed on the test split::

    python -m benchmarks.logic --out benchmarks/runs/logic_models --teacher-seconds 420

The compact answer has no scratchpad (``A:B&!C;B:A>C;C:!A|B?`` -> ``A=n,B=k,C=k``): the model must solve
the puzzle in one pass, which is hard for a 2-4 layer model. ``build.json`` records what was tried and
the measured accuracies, so the report can say how far it got.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

TASK_OPTIONS: dict[str, Any] = {"style": "compact", "n_people": [3, 4, 5]}
TRAIN_PUZZLES = 30000  # 10k per size; the generator refuses sizes that run out of distinct puzzles
BUILDS: dict[str, dict[str, Any]] = {
    "teacher": {"shape": {"hidden_size": 128, "num_layers": 4, "num_heads": 4}, "seed": 0},
    "student": {"shape": {"hidden_size": 64, "num_layers": 2, "num_heads": 4}, "seed": 1},
}
TEACHER_TARGET = 0.8


def logic_task():
    from rlad.tasks import get_task

    return get_task("kk_synthetic", **TASK_OPTIONS)


def probe_accuracy(model: Any, tokenizer: Any, rows: list[dict], k: int = 4, seed: int = 0) -> float:
    """Mean@k (temperature 0.6, top-p 0.95) of ``model`` on ``rows``: the benchmark's eval sampling."""
    from rlad.eval import HFBackend

    task = logic_task()
    backend = HFBackend(model, tokenizer, batch_size=128, show_progress=False)
    texts = backend.generate(
        [r["prompt"] for r in rows], n=k, max_new_tokens=24, temperature=0.6, top_p=0.95, seed=seed
    )  # (P, k)
    flat_rows = [r for r, group in zip(rows, texts) for _ in group]
    scores = task.score_batch([t for group in texts for t in group], flat_rows)
    return sum(s.correct for s in scores) / max(1, len(scores))


def build(role: str, out_dir: Path, seconds: float, probe_every: int = 100) -> dict[str, Any]:
    """Train one model for at most ``seconds`` (training time), probing test accuracy on the way."""
    from rlad.toy.models import build_tiny_llama, count_parameters, save_model
    from rlad.toy.sft import train_on_pairs
    from rlad.toy.tokenizer import build_char_tokenizer

    spec = BUILDS[role]
    tokenizer = build_char_tokenizer()
    task = logic_task()
    t0 = time.time()
    train = task.load(split="train", limit=TRAIN_PUZZLES)
    data_seconds = time.time() - t0
    pairs = list(zip(train["prompt"], train["reference"]))
    probe_rows = [dict(r) for r in task.load(split="test", limit=150, seed=1234)]
    model = build_tiny_llama(tokenizer, seed=spec["seed"], **spec["shape"])
    probes: list[tuple[int, float]] = []

    def sample_pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
        return [rng.choice(pairs) for _ in range(n)]

    def probe(step: int) -> None:
        probes.append((step, round(probe_accuracy(model, tokenizer, probe_rows), 4)))
        print(f"logic {role}: step {step} test Mean@4 {probes[-1][1]:.3f}", flush=True)

    stats = train_on_pairs(
        model,
        tokenizer,
        sample_pairs,
        steps=100_000,  # the time limit stops it
        time_limit_s=seconds,
        batch_size=128,
        lr=2e-3,
        seed=spec["seed"],
        progress=False,
        description=f"logic {role}",
        callback=probe,
        callback_every=probe_every,
    )
    model.eval()
    final = round(probe_accuracy(model, tokenizer, probe_rows), 4)
    save_model(model, tokenizer, out_dir / role)
    facts = {
        "role": role,
        **spec,
        "parameters": count_parameters(model),
        "train_puzzles": len(pairs),
        "data_seconds": round(data_seconds, 1),
        "train_seconds": round(stats["seconds"], 1),
        "steps": stats["steps"],
        "final_loss": round(stats["final_loss"], 4),
        "probes": probes,
        "test_mean_at_4": final,
    }
    (out_dir / role / "build.json").write_text(json.dumps(facts, indent=1))
    return facts


def build_pair(out_dir: Path, teacher_seconds: float, student_seconds: float) -> dict[str, Any]:
    """Build (or reuse) the pair; the student is built only if the teacher reached the target."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = out_dir / "pair.json"
    if summary_path.is_file():
        return json.loads(summary_path.read_text())
    teacher = build("teacher", out_dir, teacher_seconds)
    summary: dict[str, Any] = {"task_options": TASK_OPTIONS, "target": TEACHER_TARGET, "teacher": teacher}
    summary["usable"] = teacher["test_mean_at_4"] >= TEACHER_TARGET
    if summary["usable"]:
        summary["student"] = build("student", out_dir, student_seconds)
    summary_path.write_text(json.dumps(summary, indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/runs/logic_models"))
    parser.add_argument("--teacher-seconds", type=float, default=420.0)
    parser.add_argument("--student-seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps(build_pair(args.out, args.teacher_seconds, args.student_seconds), indent=1))


if __name__ == "__main__":
    main()
