"""Training cost, measured side by side in one process: seconds per step of GRPO, KDRL and RLAD and
where they go, then the peak memory of teacher scoring (chunked vs naive).

    python -m benchmarks.cost SPEC.json OUT.json

``SPEC.json`` holds a :class:`~rlad.compare.spec.RunSpec` of the math family (its batch, its lengths)
and the benchmark mode (how many steps and passes).
The three methods run ``cost_steps`` steps each, in the order A B C, then C B A, ... (``cost_repeats``
passes), with no evaluation, in this one process, so they share the machine's state as closely as a
shared 2-core machine allows. Per step we time (wall clock, ``time.perf_counter``):

* ``step_s``: one optimizer step, from ``on_step_begin`` to ``on_step_end`` (what TRL's ``step_time``
  also measures, plus the optimizer step);
* ``generation_s``: TRL's ``_generate`` (student sampling of the whole batch);
* ``teacher_scoring_s``: rlad's ``timing/teacher_scoring_s`` (teacher forward on every sampled token);
* ``prepare_other_s``: the rest of ``_generate_and_score_completions`` (rewards, advantages, padding);
* ``loss_forward_s``: ``_compute_loss`` (student forward, the objective);
* ``backward_optim_s``: the remainder (backward pass, gradient clipping, optimizer step).

The first step of each run (warm-up: allocations, lazy imports) is left out of the means.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rlad.compare.methods import RL_METHODS
from rlad.compare.spec import RunSpec, train_run
from rlad.files import write_json_atomic

TIMED = {
    "generation_s": "_generate",
    "prepare_s": "_generate_and_score_completions",
    "loss_forward_s": "_compute_loss",
}


def _install_timers(trainer_cls: type, sink: dict[str, list[float]]) -> None:
    """Wrap the timed trainer methods so each call's duration is appended to ``sink[name]``."""
    for name, attr in TIMED.items():
        original = getattr(trainer_cls, attr)

        @functools.wraps(original)
        def timed(self, *args, _original=original, _name=name, **kwargs):
            start = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                sink[_name].append(time.perf_counter() - start)

        setattr(trainer_cls, attr, timed)


def _step_callback(sink: dict[str, list[float]]):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            sink["step_s"].append(time.perf_counter() - self.start)

    return StepTimer()


def time_method(spec: RunSpec, method: str, steps: int, out_dir: Path) -> dict[str, float]:
    """Train ``method`` for ``steps`` steps with timers on; per-step means (first step left out)."""
    from rlad.run.runner import train_recipe
    from rlad.trainer import RLADTrainer

    sink: dict[str, list[float]] = defaultdict(list)
    originals = {attr: getattr(RLADTrainer, attr) for attr in TIMED.values()}
    _install_timers(RLADTrainer, sink)
    try:
        run = train_run(spec.recipe, method, spec.seed, out_dir, method, overrides={"max_steps": steps})
        recipe = dataclasses.replace(run.recipe, eval_every=0)
        result = train_recipe(recipe, extra_callbacks=[_step_callback(sink)])
    finally:
        for attr, fn in originals.items():
            setattr(RLADTrainer, attr, fn)
    teacher = [
        (r["step"], r["timing/teacher_scoring_s"])
        for r in result.log_history
        if "timing/teacher_scoring_s" in r
    ]
    return per_step_means(sink, teacher)


def per_step_means(sink: dict[str, list[float]], teacher: list[tuple[int, float]]) -> dict[str, float]:
    """Seconds per optimiser step of each timed part, step 1 (warm-up) left out.

    A part that runs once per generation batch (``_generate``, the teacher scoring) with
    ``steps_per_generation`` > 1 has fewer calls than there are steps, so every part is its total over
    the timed steps divided by their number: per-step shares that add up to ``step_s``. ``teacher``
    holds ``(step, seconds)`` from the log.

    >>> sink = {"step_s": [9, 5, 5, 5, 9], "generation_s": [6, 8], "prepare_s": [7, 10], "loss_forward_s": [1] * 5}
    >>> m = per_step_means(sink, [(1, 0.5), (5, 1.0)])  # generation at steps 1 and 5 of 5
    >>> [m[k] for k in ("step_s", "generation_s", "teacher_scoring_s", "prepare_other_s", "backward_optim_s")]
    [6.0, 2.0, 0.25, 0.25, 2.5]
    """
    steps = len(sink["step_s"]) - 1
    means = {name: sum(values[1:]) / steps for name, values in sink.items()}
    means["teacher_scoring_s"] = sum(seconds for step, seconds in teacher if step > 1) / steps
    means["prepare_other_s"] = means["prepare_s"] - means["generation_s"] - means["teacher_scoring_s"]
    means["backward_optim_s"] = means["step_s"] - means["prepare_s"] - means["loss_forward_s"]
    means["steps_timed"] = steps
    return means


def side_by_side(spec: RunSpec, mode: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """A B C, C B A, ...: every method ``cost_repeats`` times; per method the mean over passes."""
    order = list(RL_METHODS)
    passes: dict[str, list[dict[str, float]]] = {m: [] for m in order}
    for i in range(mode["cost_repeats"]):
        for method in order if i % 2 == 0 else order[::-1]:
            passes[method].append(
                time_method(spec, method, mode["cost_steps"] + 1, out_dir / f"{method}_{i}")
            )
    table = {
        method: {key: statistics.fmean(p[key] for p in runs) for key in runs[0]}
        for method, runs in passes.items()
    }
    base = table["grpo"]["step_s"]
    return {
        "steps_per_pass": mode["cost_steps"],
        "passes": mode["cost_repeats"],
        "batch": mode["prompts_per_step"] * mode["num_generations"],
        "per_method": table,
        "ratio_to_grpo": {m: table[m]["step_s"] / base for m in order},
        "raw": passes,
    }


def main() -> None:
    from benchmarks.memory_probe import probe

    plan = json.loads(Path(sys.argv[1]).read_text())
    spec, mode = RunSpec.from_json(plan["spec"]), plan["mode"]
    out_path = Path(sys.argv[2])
    result = {"timing": side_by_side(spec, mode, out_path.parent / "cost_runs")}
    result["memory"] = [
        probe(method, vocab, batch, length)
        for vocab, batch, length in mode["memory_shapes"]
        for method in ("chunked", "naive")
    ]
    write_json_atomic(out_path, result)


if __name__ == "__main__":
    main()
