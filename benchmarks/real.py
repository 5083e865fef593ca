"""The real-model family on this CPU: GRPO, KDRL, RLAD and SFT from the shipped SmolLM2-135M pair.

    python -m benchmarks.real [--out benchmarks/runs/real] [--seeds 3] [--skip-cost]

The student is ``smollm2-135m-sums-early`` (step 20 of its teacher's own LoRA run on ``sums``), the
teacher ``smollm2-135m-sums`` (the end of that run); the students train LoRA adapters
(``recipes/real_sums_lora.yaml`` with :data:`OVERRIDES`: 32 steps of 4 prompts x 4 rollouts, one
generation batch per 4 optimiser steps, a constant rate, bf16 autocast on the CPU). Phases:

1. ``compare``: the ``rlad compare`` preset, every method x ``seeds``, two trainings at once (one thread
   each), each final model evaluated on 64 test problems x 4 samples of the recipe's ``d2`` subset (two
   two-digit operands: what the runs train on). An evaluation costs about as much as 10 training steps
   here, so the curves are the training reward (64 rollouts per point), not periodic evaluations.
   Finished runs are reused, so ``rlad compare recipes/real_sums_lora.yaml --workers 2 --out OUT
   <OVERRIDES>`` fills the same folder.
2. ``mechanism``: ``rlad diagnose`` of the student before training and of each method's first-seed final
   model against the teacher (the same 32 train prompts of ``d2`` x 4 samples, seed 0): what TRRD would
   do next.
3. ``cost``, alone on the machine: GRPO, KDRL and RLAD side by side in one process
   (:func:`benchmarks.cost.side_by_side`, the comparison's batch and settings, ``COST_STEPS`` timed steps).
4. ``report``: ``OUT/report.md`` and ``OUT/report.json``; the curves are ``OUT/val_accuracy.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python benchmarks/real.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report_power import power_section  # noqa: E402
from rlad.files import write_json_atomic, write_text_atomic  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "real_sums_lora.yaml"
METHODS = ("grpo", "rlad", "kdrl", "sft")  # pairs started side by side: grpo with rlad, kdrl with sft
# The comparison's settings on top of the recipe, as `rlad compare` key=value overrides (the same strings,
# so the CLI and this module fill one folder). The rate was chosen by a 13-step GRPO probe of 5e-4 vs
# 1e-3 (train reward 0.19 -> 0.38 vs 0.19 -> 0.19), for every method alike.
OVERRIDES = (
    "max_steps=32",
    "eval_every=0",
    "learning_rate=5e-4",
    "lr_scheduler_type=constant",
    "steps_per_generation=4",
    "bf16=true",
    "use_cpu=true",
    "save_steps=16",
)
MECHANISM = {"n": 32, "k": 4, "max_new_tokens": 64, "temperature": 1.0, "split": "train", "seed": 0}
COST_STEPS = 8  # timed steps per method after one warm-up step: two generation batches of four steps
HARDEST = "d2"  # two two-digit operands


def load(overrides: tuple[str, ...] = OVERRIDES):
    from rlad.run.recipes import load_recipe

    return load_recipe(RECIPE, list(overrides))


def compare_phase(out: Path, seeds: int) -> Any:
    from rlad.compare.recipe import run_compare

    return run_compare(load(), METHODS, seeds, out, workers=2, log=print)


def mechanism_phase(out: Path, finals: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``rlad diagnose`` of each model in ``finals`` (name -> model spec) against the teacher; cached per
    model in ``OUT/mechanism/<name>.json``."""
    from rlad.mechanism import diagnose

    recipe = load()
    teacher, options = recipe.config["teacher_model"], recipe.task_options
    reports = {}
    for name, model in finals.items():
        path = out / "mechanism" / f"{name}.json"
        if not path.is_file():
            started = time.time()
            report = dataclasses.asdict(diagnose(model, teacher, "sums", task_options=options, **MECHANISM))
            report["model"], report["seconds"] = model, round(time.time() - started, 1)
            write_json_atomic(path, report)
            print(f"mechanism {name}: {report['seconds']:.0f} s")
        reports[name] = json.loads(path.read_text())
    return reports


def cost_phase(out: Path) -> dict[str, Any]:
    """GRPO, KDRL and RLAD timed side by side in this process, one thread (as the comparison's runs)."""
    import torch

    from benchmarks.cost import side_by_side
    from rlad.compare.spec import train_run

    path = out / "cost.json"
    if path.is_file():
        return json.loads(path.read_text())
    torch.set_num_threads(1)
    spec = train_run(load(), "grpo", 0, out / "cost_runs", "cost")
    mode = {"cost_steps": COST_STEPS, "cost_repeats": 1, "prompts_per_step": 4, "num_generations": 4}
    result = side_by_side(spec, mode, out / "cost_runs")
    write_json_atomic(path, result)
    return result


def reward_curves(runs: dict[str, list[dict]]) -> dict[str, list[list[tuple[int, float]]]]:
    """Per RL method, each seed's training reward by step (logged once per generation batch: 64 rollouts)."""
    from rlad.compare.results import curve, read_metrics

    return {
        method: [curve(read_metrics(done["metrics"]), "reward") for done in dones]
        for method, dones in runs.items()
        if method != "sft"
    }


def reward_table(curves: dict[str, list[list[tuple[int, float]]]], window: int = 3) -> list[str]:
    """Mean training reward over each seed's first and last ``window`` logged batches, mean over seeds."""

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else float("nan")

    lines = [
        f"| method | seeds | reward, first {window} batches | reward, last {window} batches | change |",
        "| :--- | ---: | ---: | ---: | ---: |",
    ]
    for method, seeds in curves.items():
        first = mean([mean([v for _, v in c[:window]]) for c in seeds if c])
        last = mean([mean([v for _, v in c[-window:]]) for c in seeds if c])
        lines.append(f"| {method} | {len(seeds)} | {first:.3f} | {last:.3f} | {last - first:+.3f} |")
    return lines


def mechanism_table(reports: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| model | accuracy | mean log(pi_S/pi_T) | q95 | beyond clamp | veto share | correct agreed |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in reports.items():
        agreed = "-" if r["agreed_share"] is None else f"{r['agreed_share']:.2f} (of {r['num_correct']})"
        lines.append(
            f"| {name} | {r['accuracy']:.3f} | {r['log_ratio_mean']:+.2f} | {r['log_ratio_quantiles']['q95']:+.2f} "
            f"| {r['beyond_clamp']:.3f} | {r['veto_share']:.3f} (of {r['positive_tokens']}) | {agreed} |"
        )
    return lines


def cost_table(cost: dict[str, Any]) -> list[str]:
    lines = [
        "| method | s / step | generation | teacher scoring | loss forward | backward + optimiser | x GRPO |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for method, t in cost["per_method"].items():
        lines.append(
            f"| {method} | {t['step_s']:.1f} | {t['generation_s']:.1f} | {t['teacher_scoring_s']:.1f} "
            f"| {t['loss_forward_s']:.1f} | {t['backward_optim_s']:.1f} | {cost['ratio_to_grpo'][method]:.3f} |"
        )
    return lines


def report(out: Path, result: Any, mechanism: dict[str, Any], cost: dict[str, Any] | None) -> Path:
    runs: dict[str, list[dict]] = {}
    for done in result.runs:
        runs.setdefault(done["method"], []).append(done)
    refs = {name: {"eval": summary} for name, summary in result.references.items()}
    k = load().eval_k
    power_lines, power = power_section("real (sums)", runs, refs, k, HARDEST)
    curves = reward_curves(runs)
    from rlad.plots import plot_validation_curves

    plot = plot_validation_curves(
        curves, out / "train_reward.png", k, ylabel="training reward (64 rollouts)", title="Training reward"
    )
    lines = [
        "# The real-model family: SmolLM2-135M, sums, on this CPU",
        "",
        f"Command: `python -m benchmarks.real --out {out}`; settings: `{' '.join(OVERRIDES)}` over "
        f"`recipes/real_sums_lora.yaml`; {len(result.runs)} runs, {len(result.failures)} failed.",
        "",
        result.results_md.read_text().strip(),
        "",
        *power_lines,
        "## Training reward (the curves: one point per generation batch of 16 prompts x 4 rollouts)",
        "",
        *reward_table(curves),
        "",
        f"Plot: `{plot.name if plot else '-'}` (mean over seeds, band: seed-std).",
        "",
        "## Mechanism before and after (rlad diagnose on the student's own samples, against the teacher)",
        "",
        f"Settings: {MECHANISM}, task options {load().task_options}, alpha 0.5, c = 1, eps_high 0.28; after "
        "training: each method's first seed.",
        "",
        *mechanism_table(mechanism),
        "",
    ]
    if cost is not None:
        lines += [
            f"## Cost side by side (one process, one thread, {cost['steps_per_pass']} timed steps each)",
            "",
            *cost_table(cost),
            "",
            *([f"Note: {cost['converted']}.", ""] if cost.get("converted") else []),
        ]
    path = write_text_atomic(out / "report.md", "\n".join(lines) + "\n")
    write_json_atomic(
        out / "report.json", {"power": power, "reward_curves": curves, "mechanism": mechanism, "cost": cost}
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "runs" / "real")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--skip-cost", action="store_true", help="leave out the cost phase")
    args = parser.parse_args(argv)
    result = compare_phase(args.out, args.seeds)
    firsts = {
        d["method"]: d["final_model"] for d in result.runs if d["seed"] == min(r["seed"] for r in result.runs)
    }
    finals = {"student_before": load().model, **{m: firsts[m] for m in METHODS if m in firsts}}
    mechanism = mechanism_phase(args.out, finals)
    cost = None if args.skip_cost else cost_phase(args.out)
    print(report(args.out, result, mechanism, cost).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
