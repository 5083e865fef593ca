"""The demo's tiny teacher and student: built by this module, shipped in ``checkpoints/``.

Rebuild them (a few minutes on a 2-core CPU) with::

    python -m rlad.demo.models

The task is :mod:`rlad.tasks.arithmetic` with 2-3 one-digit operands (``7-2+5=`` ->
``7-2=5,5+5=10;A:10``), out of distribution: 4 operands. Both models share the character tokenizer
of :mod:`rlad.toy.tokenizer` and are trained with the supervised loop of :mod:`rlad.toy.sft` on the
*training* split's problems only: the teacher for long enough to be strong, the (smaller) student
only briefly, so that RL groups of 8 samples have mixed rewards.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
TASK_OPTIONS = {
    "min_operands": 2,
    "max_operands": 3,
    "max_digits": 1,
    "ood_max_operands": 4,
    "ood_max_digits": 1,
}
BUILDS = {
    "teacher": {"shape": {"hidden_size": 64, "num_layers": 2, "num_heads": 4}, "steps": 1800, "seed": 0},
    "student": {"shape": {"hidden_size": 48, "num_layers": 2, "num_heads": 4}, "steps": 360, "seed": 1},
}


def demo_task():
    from rlad.tasks import get_task

    return get_task("arithmetic", **TASK_OPTIONS)


def checkpoint(role: str) -> Path:
    """Path of the shipped ``teacher`` or ``student``; a clear error if it is missing."""
    path = CHECKPOINTS / role
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"demo {role} checkpoint missing at {path}; rebuild with: python -m rlad.demo.models"
        )
    return path


def build(role: str, out_dir: Path = CHECKPOINTS) -> dict[str, Any]:
    """Train one demo model from scratch and save it under ``out_dir/role``; returns build facts."""
    from rlad.toy.models import build_tiny_llama, count_parameters, save_model
    from rlad.toy.sft import train_on_pairs
    from rlad.toy.tokenizer import build_char_tokenizer

    spec = BUILDS[role]
    tokenizer = build_char_tokenizer()
    train = demo_task().load(split="train")
    pairs = list(zip(train["prompt"], train["reference"]))

    def sample_pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
        return [rng.choice(pairs) for _ in range(n)]

    model = build_tiny_llama(tokenizer, seed=spec["seed"], **spec["shape"])
    start = time.time()
    stats = train_on_pairs(
        model,
        tokenizer,
        sample_pairs,
        steps=spec["steps"],
        batch_size=64,
        lr=3e-3,
        seed=spec["seed"],
        description=f"demo {role}",
    )
    save_model(model, tokenizer, out_dir / role)
    facts = {
        "role": role,
        **spec,
        "parameters": count_parameters(model),
        "seconds": round(time.time() - start, 1),
        "final_loss": round(stats["final_loss"], 4),
        "train_problems": len(pairs),
    }
    (out_dir / role / "build.json").write_text(json.dumps(facts, indent=1))
    return facts


if __name__ == "__main__":
    for name in BUILDS:
        print(build(name))
