"""Run one :class:`~rlad.compare.spec.RunSpec`: train it, evaluate it, write ``done.json``; resumable.

    python -m rlad.compare.runs OUT/.../spec.json      # one run in its own process (rlad.compare.pool)

A run is finished when its folder holds a ``done.json`` with the spec's fingerprint; it is then reused,
not redone. A ``done.json`` of another spec is refused (``rlad compare``: the user named a folder of
another comparison) or set aside as ``done.stale.json`` and the run redone (the benchmark: a changed
setting reruns exactly the runs it changes). An unfinished run continues from its newest checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from rlad.compare.methods import REFERENCE, SFT, CompareError
from rlad.compare.results import summary_of
from rlad.compare.spec import RunSpec
from rlad.files import write_json_atomic, write_text_atomic

DONE = "done.json"


def is_ood(subset: str) -> bool:
    """The subsets of an ``ood_split`` are named ``ood...`` by every task that has one."""
    return subset.startswith("ood")


def finished(spec: RunSpec, refuse_other: bool) -> dict[str, Any] | None:
    """The run's ``done.json`` if it finished with this spec; a finished run of another spec is refused
    (``refuse_other``) or moved to ``done.stale.json``."""
    marker = spec.output_dir / DONE
    if not marker.is_file():
        return None
    done = json.loads(marker.read_text())
    if done.get("fingerprint") == spec.fingerprint():
        return done
    if refuse_other:
        raise CompareError(
            f"{str(spec.output_dir)!r} holds a finished run of a different recipe; "
            "use another --out or delete that folder"
        )
    marker.replace(spec.output_dir / "done.stale.json")
    return None


def eval_rows(spec: RunSpec) -> tuple[Any, Any, Any]:
    """(task, held-out rows of the final evaluation, validation rows): the recipe's held-out split, then
    the out-of-distribution split when the spec names one."""
    from datasets import concatenate_datasets

    from rlad.run.runner import load_task_data

    task, _, validation = load_task_data(spec.recipe)
    if spec.ood_split is None:
        return task, validation, validation
    ood = task.load(split=spec.ood_split, limit=spec.ood_limit, seed=spec.ood_seed)
    return task, concatenate_datasets([validation, ood]), validation


def evaluate_final(spec: RunSpec, model_path: str, name: str) -> tuple[Any, float | None]:
    """Evaluate ``model_path`` as ``spec`` says; writes ``eval.json`` (every sample) and ``eval.md``.
    Returns the report and, when ``spec.step0``, the model's validation score (the curves' step 0)."""
    from rlad.eval.evaluate import evaluate_model
    from rlad.run.models import load_model
    from rlad.run.runner import make_evaluate_fn

    task, rows, validation = eval_rows(spec)
    model, tokenizer, _ = load_model(model_path)
    report = evaluate_model(
        model, tokenizer, task, rows, spec.evaluation, ood_subsets=is_ood if spec.ood_split else (), name=name
    )
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    report.to_json(spec.output_dir / "eval.json")
    write_text_atomic(spec.output_dir / "eval.md", report.to_markdown())
    step0 = None
    if spec.step0:
        length = int(spec.recipe.config.get("max_completion_length", 512))
        validate = make_evaluate_fn(task, validation, tokenizer, spec.recipe.eval_k, length)
        step0 = validate(model).overall.mean_at_k
    return report, step0


def train(spec: RunSpec, verbose: bool, progress_desc: str) -> tuple[Any, dict[str, Any]]:
    """Train the spec's recipe (SFT through rlad.run.sft_distill); (result, facts for ``done.json``)."""
    from rlad.run.runner import train_recipe
    from rlad.run.sft_distill import sft_distill

    # An unfinished run continues from its checkpoint, or starts over: it has no done.json, so
    # nothing of it was reported and nothing is lost.
    resume = any(spec.output_dir.glob("checkpoint-*"))
    recipe = dataclasses.replace(spec.recipe, overwrite_output_dir=True)
    if spec.method == SFT:
        result = sft_distill(
            recipe, samples_per_prompt=spec.sft_samples_per_prompt, resume=resume, verbose=verbose
        )
        return result, {"acceptance": result.acceptance.summary()}
    return train_recipe(recipe, resume=resume, verbose=verbose, progress_desc=progress_desc), {}


def run_one(
    spec: RunSpec, refuse_other: bool = False, verbose: bool = False, progress_desc: str | None = None
) -> dict[str, Any]:
    """Train and evaluate one run, or return its ``done.json`` when it already finished (key ``reused``)."""
    done = finished(spec, refuse_other)
    if done is not None:
        return {**done, "reused": True}
    started = time.time()
    done = {"name": spec.name, "method": spec.method, "seed": spec.seed, "output_dir": str(spec.output_dir)}
    model = spec.model
    if spec.method != REFERENCE:
        result, facts = train(spec, verbose, progress_desc or spec.name)
        model = str(result.final_model)
        done.update(facts, final_model=model, metrics=str(result.metrics_path))
        done["train_seconds"] = round(time.time() - started, 1)
    if spec.evaluation is not None:
        report, step0 = evaluate_final(spec, model or "", spec.name)
        done["eval"] = summary_of(report)
        if step0 is not None:
            done["step0_validation"] = step0
    done.update(seconds=round(time.time() - started, 1), spec=spec.to_json(), fingerprint=spec.fingerprint())
    write_json_atomic(spec.output_dir / DONE, done)  # atomic: a crash never leaves a half "done"
    return done


def main(argv: list[str] | None = None) -> int:
    spec = RunSpec.from_json(json.loads(Path((argv or sys.argv[1:])[0]).read_text()))
    run_one(spec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
