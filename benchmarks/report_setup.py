"""The report's sections on how the benchmark was set up and what it cost.

The searches (``OUT/lr_search.json``), the logic teacher / student build (``OUT/logic_models/pair.json``),
the side-by-side cost and memory probe (``OUT/cost/cost.json``) and how the phase times add up
(``OUT/benchmark.json``). The results sections are in :mod:`benchmarks.report`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.analysis import fmt


def invocations_note(invocations: list[dict[str, Any]]) -> str:
    """How the phase times add up when the benchmark ran in more than one invocation (report-only ones aside)."""
    invocations = [i for i in invocations if set(i.get("phases", [])) - {"report"}]
    if len(invocations) < 2:
        return "."
    each = ", ".join(f"{i['date']}: {i['seconds']:.0f} s" for i in invocations)
    return (
        f", summed over {len(invocations)} invocations ({each}); a run redone after a settings change "
        "counts in each invocation that ran it."
    )


def lr_section(out: Path) -> list[str]:
    path = out / "lr_search.json"
    if not path.is_file():
        return []
    lines: list[str] = []
    for family, rates in json.loads(path.read_text()).items():
        if isinstance(rates, str):  # settings taken from another family
            lines += [f"Learning rates and KD coefficient for {family}: {rates}.", ""]
            continue
        grid = sorted({lr for r in rates.values() for lr in r["scores"]}, key=float)
        lines += [
            f"### Learning-rate search ({family}, seed 0; score = mean of the last two validation Mean@k points)",
            "",
            "| method | " + " | ".join(grid) + " | chosen |",
            "| :--- | " + " | ".join("---:" for _ in grid) + " | ---: |",
        ]
        for method, r in rates.items():
            lines.append(
                f"| {method} | "
                + " | ".join(fmt(r["scores"].get(lr)) for lr in grid)
                + f" | {r['chosen']:g} |"
            )
        kdrl = rates.get("kdrl", {})
        if "kd_scores" in kdrl:
            scores = ", ".join(f"{b}: {fmt(v)}" for b, v in kdrl["kd_scores"].items())
            lines += [
                "",
                f"KDRL's starting KD coefficient at its rate {kdrl['chosen']:g} (annealed linearly to a fifth): "
                f"{scores}; chosen {kdrl['kd_beta']:g}.",
            ]
        lines.append("")
    return lines


def cost_section(out: Path) -> list[str]:
    path = out / "cost" / "cost.json"
    if not path.is_file():
        return []
    cost = json.loads(path.read_text())
    timing = cost["timing"]
    lines = [
        f"### Cost (math; batch {timing['batch']} completions; {timing['steps_per_pass']} timed steps per "
        f"method per pass, {timing['passes']} pass(es) in the order A B C / C B A, one process, nothing else of "
        "the benchmark running)",
        "",
        "| method | s / step | / GRPO | generation | teacher scoring | other prep (rewards, padding) | "
        "loss forward | backward + optimizer |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for method, t in timing["per_method"].items():
        lines.append(
            f"| {method} | {t['step_s']:.3f} | {timing['ratio_to_grpo'][method]:.3f} | {t['generation_s']:.3f} | "
            f"{t['teacher_scoring_s']:.3f} | {t['prepare_other_s']:.3f} | {t['loss_forward_s']:.3f} | "
            f"{t['backward_optim_s']:.3f} |"
        )
    lines += [
        "",
        "Teacher-scoring peak memory (growth of the process's max RSS during one scoring call, fresh process "
        "per cell; one-layer Llama, hidden 64, completion = second half of the sequence):",
        "",
        "| vocab | batch x length | chunked (MiB) | naive (MiB) | one fp32 (B, T, V) tensor (MiB) | same log-probs |",
        "| ---: | :--- | ---: | ---: | ---: | :--- |",
    ]
    cells: dict[tuple, dict[str, dict]] = {}
    for m in cost["memory"]:
        cells.setdefault((m["vocab"], m["batch"], m["length"]), {})[m["method"]] = m
    for (vocab, batch, length), pair in cells.items():
        same = abs(pair["chunked"]["checksum"] - pair["naive"]["checksum"]) <= 1e-3 * max(
            1.0, abs(pair["naive"]["checksum"])
        )
        lines.append(
            f"| {vocab} | {batch} x {length} | {pair['chunked']['peak_mib']:.1f} | {pair['naive']['peak_mib']:.1f} "
            f"| {pair['naive']['one_fp32_logits_tensor_mib']:.1f} | {'yes' if same else 'NO'} |"
        )
    return [*lines, ""]


def logic_models_section(out: Path) -> list[str]:
    path = out / "logic_models" / "pair.json"
    if not path.is_file():
        return []
    pair = json.loads(path.read_text())  # written by rlad.toy.pair.build_pair
    recipe, (low, high) = pair["recipe"], pair["recipe"]["student_band"]
    probes = ", ".join(f"{step}: {accuracy:.3f}" for step, accuracy in pair["probes"])
    seconds = pair["seconds"]
    lines = [
        "### Logic family: the tiny teacher / student build",
        "",
        f"- one run ({pair['run_id']}): {pair['parameters']} parameters, {recipe['hidden_size']} wide, "
        f"{recipe['num_layers']} layers, batch {recipe['batch_size']}, lr {recipe['lr']:g}, "
        f"{pair['teacher']['step']} steps in {seconds['train']:.0f} s (+{seconds['probes']:.0f} s of probes) on "
        f"fresh draws from {pair['train_problems']} verified train puzzles per size, final loss "
        f"{pair['final_loss']}; probe Mean@{recipe['probe_k']} on {recipe['probe_prompts']} test puzzles by "
        f"step: {probes}.",
    ]
    for role, mark in (
        ("teacher", f"target >= {recipe['teacher_target']}"),
        ("student", f"band {low}-{high}"),
    ):
        m = pair[role]
        lines.append(f"- {role}: step {m['step']}, Mean@{pair['k']} {m['mean_at_k']:.3f} ({mark}).")
    if not pair["usable"]:
        lines.append("- the pair missed its marks, so no logic comparison was run.")
    return [*lines, ""]
