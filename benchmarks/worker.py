"""One benchmark run in its own process: ``python -m benchmarks.worker OUT/runs/<name>/spec.json``.

Train (``rlad.runner.train_recipe`` for RL methods, ``rlad.sft_distill.sft_distill`` for SFT), then
evaluate the final student on the in-distribution test split and the out-of-distribution split with
the paper's protocol (k samples, temperature 0.6, top-p 0.95, sampling seed 0, the same for every run),
and write ``done.json``. A ``reference`` run only evaluates ``spec.model`` (the untrained student, the
teacher), plus its validation score at step 0 (the same evaluation the periodic callback runs). A search
run (``lr_search``, ``kd_search``) is chosen on its validation curve alone, so it skips the final
evaluation (about a minute per logic run).
A fresh process per run keeps runs independent (RNG, memory) and lets two run side by side.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.settings import RunSpec

EVAL_TEMPERATURE = 0.6
EVAL_TOP_P = 0.95
EVAL_SEED = 0
SEARCH_PHASES = ("lr_search", "kd_search")  # scored on the validation curve; no final evaluation


def needs_final_eval(spec: RunSpec) -> bool:
    return spec.phase not in SEARCH_PHASES


def recipe_of(spec: RunSpec):
    from rlad.recipes import Recipe

    family, mode = spec.family, spec.mode
    return Recipe(
        model=family.student,
        task=family.task,
        task_options=dict(family.task_options),
        train_limit=mode.train_limit,
        eval_split="test",
        eval_limit=mode.eval_limit,
        eval_every=mode.eval_every,
        eval_k=mode.k,
        config=spec.config(),
    )


def eval_data(spec: RunSpec):
    """(task, held-out rows): the test split, then the out-of-distribution split when there is one."""
    from datasets import concatenate_datasets

    from rlad.tasks import get_task

    family, mode = spec.family, spec.mode
    task = get_task(family.task, **family.task_options)
    parts = [task.load(split="test", limit=mode.eval_limit, seed=1234)]
    if family.ood_split:
        parts.append(task.load(split=family.ood_split, limit=mode.ood_limit, seed=1234))
    return task, concatenate_datasets(parts)


def evaluate_final(model_path: str, spec: RunSpec) -> dict[str, Any]:
    """Mean@k / Pass@k overall, per subset, in / out of distribution (summary numbers, no samples)."""
    from rlad.eval import HFBackend, evaluate
    from rlad.models import load_model

    task, data = eval_data(spec)
    model, tokenizer, _ = load_model(model_path)
    report = evaluate(
        HFBackend(model, tokenizer, batch_size=128, show_progress=False),
        task,
        data,
        k=spec.mode.k,
        max_new_tokens=spec.family.max_completion_length,
        temperature=EVAL_TEMPERATURE,
        top_p=EVAL_TOP_P,
        seed=EVAL_SEED,
        greedy=False,
        ood_subsets=lambda s: s.startswith("ood"),
        name=spec.name,
        show_progress=False,
    )
    return {
        "overall": report.overall.to_dict(),
        "subsets": {n: m.to_dict() for n, m in report.subsets.items()},
        "groups": {n: m.to_dict() for n, m in report.groups.items()},
    }


def step0_validation(model_path: str, spec: RunSpec) -> float:
    """The periodic validation score of ``model_path``, i.e. the curves' value at step 0."""
    from rlad.models import load_model
    from rlad.runner import load_task_data, make_evaluate_fn

    task, _, evaluation = load_task_data(recipe_of(spec))
    model, tokenizer, _ = load_model(model_path)
    run = make_evaluate_fn(task, evaluation, tokenizer, spec.mode.k, spec.family.max_completion_length)
    return run(model.eval()).overall.mean_at_k


def run(spec: RunSpec) -> dict[str, Any]:
    from rlad.runner import train_recipe
    from rlad.sft_distill import sft_distill

    started = time.time()
    done: dict[str, Any] = {"spec": spec.to_json()}
    if spec.method == "reference":
        done["eval"] = evaluate_final(spec.model or "", spec)
        done["step0_validation"] = step0_validation(spec.model or "", spec)
    else:
        recipe = recipe_of(spec)
        if spec.method == "sft":
            result = sft_distill(recipe, samples_per_prompt=spec.mode.sft_samples_per_prompt)
            done["acceptance"] = result.acceptance.summary()
        else:
            result = train_recipe(recipe)
        done["train_seconds"] = round(time.time() - started, 1)
        done["metrics"] = str(result.metrics_path)
        if needs_final_eval(spec):
            done["eval"] = evaluate_final(str(result.final_model), spec)
    done["seconds"] = round(time.time() - started, 1)
    return done


def main() -> None:
    spec_path = Path(sys.argv[1])
    spec = RunSpec.from_json(json.loads(spec_path.read_text()))
    done = run(spec)
    tmp = spec_path.parent / "done.json.tmp"
    tmp.write_text(json.dumps(done, indent=1, default=str) + "\n")
    tmp.replace(spec_path.parent / "done.json")  # atomic: a crash never leaves a half "done"


if __name__ == "__main__":
    main()
