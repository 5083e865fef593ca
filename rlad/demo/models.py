"""The demo's tiny teacher and student, and the command that rebuilds them.

The task is :mod:`rlad.tasks.arithmetic` with 2-3 one-digit operands (``7-2+5=`` ->
``7-2=5,5+5=10;A:10``), out of distribution: 4 operands. ``python -m rlad.demo.models`` builds the pair
with the one pair builder (:mod:`rlad.toy.pair`, recipe ``arithmetic/default`` of :mod:`rlad.toy.zoo`):
one supervised run on the train split's verified references, the student its first checkpoint whose
probe Mean@4 reaches 0.25, the teacher its end, so the two share a trajectory. It writes them to
``checkpoints/`` (shipped, so the demo needs no build step) with ``pair.json`` (the run) and
``build.json`` (the command and what TRRD will do with the pair, measured by
:func:`rlad.mechanism.diagnose` on the student's own samples).

Why a shared trajectory: the pair this replaced (a 137k teacher and a 78k student trained apart) sat
about 4.8 nats per token apart on the student's own samples; TRRD vetoed 22% of the positive-advantage
tokens at the first update. This pair: 0.9 nats, 1.5% (``build.json``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from rlad.toy.zoo import recipe_for

HERE = Path(__file__).resolve().parent
CHECKPOINTS = HERE / "checkpoints"  # the pair the demo runs, built by `build`
RECIPE = recipe_for("arithmetic")
TASK_OPTIONS = dict(RECIPE.task_options)
# What `build` measures on the student's own samples: RL's prompts (train split) at the demo's rollout
# temperature, TRRD's defaults (alpha 0.5, clamp 1, eps_high 0.28).
MECHANISM = {"n": 256, "k": 8, "max_new_tokens": 32, "temperature": 0.7, "split": "train", "seed": 0}


def demo_task():
    return RECIPE.make_task()


def checkpoint(role: str, folder: Path = CHECKPOINTS) -> Path:
    """Path of the shipped ``teacher`` or ``student`` in ``folder``; a clear error if it is missing."""
    path = folder / role
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"demo {role} checkpoint missing at {path}; rebuild with: python -m rlad.demo.models"
        )
    return path


def build(out_dir: Path = CHECKPOINTS) -> dict[str, Any]:
    """Build the pair into ``out_dir``, measure the mechanism, write ``build.json``; returns it."""
    from rlad.mechanism import diagnose
    from rlad.toy.pair import build_pair

    start = time.perf_counter()
    pair = build_pair(RECIPE, out_dir)
    report = diagnose(
        str(out_dir / "student"),
        str(out_dir / "teacher"),
        RECIPE.task,
        task_options=TASK_OPTIONS,
        **MECHANISM,
    )
    facts = {
        "command": "python -m rlad.demo.models",
        "run_id": pair["run_id"],
        "mean_at_8": {role: pair[role]["mean_at_k"] for role in ("student", "teacher")},
        "steps": {role: pair[role]["step"] for role in ("student", "teacher")},
        "mechanism": {
            "settings": MECHANISM,
            "veto_share": round(report.veto_share, 4),
            "beyond_clamp": round(report.beyond_clamp, 4),
            "log_ratio_mean": round(report.log_ratio_mean, 4),
            "student_accuracy": round(report.accuracy, 4),
        },
        "build_seconds": round(time.perf_counter() - start, 1),  # a fact about this machine
    }
    (out_dir / "build.json").write_text(json.dumps(facts, indent=1) + "\n")
    return facts


if __name__ == "__main__":
    print(json.dumps(build(Path(sys.argv[1]) if len(sys.argv) > 1 else CHECKPOINTS), indent=1))
