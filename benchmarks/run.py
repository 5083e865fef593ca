"""The CPU-scale reproduction of the paper's comparison: RLAD vs KDRL vs GRPO vs SFT, one command.

    python -m benchmarks.run [--quick] [--out DIR]      # or: python benchmarks/run.py ...
    python -m benchmarks.run --families math --no-ablations   # the math comparison alone (about 25-40 min)

Phases (each runs its jobs two at a time, one thread each; finished runs with unchanged settings are
reused on a re-run):

1. ``search``: the math references (untrained student, teacher) and the learning-rate search (every
   method, every rate of ``lr_grid``, seed 0, ``lr_search_steps`` steps); in the same pool, the logic
   family's tiny teacher and student are built (:mod:`benchmarks.logic`).
2. ``tune``: each method's rate is the best mean of the last two validation points (in-distribution
   test split, Mean@k; the smaller rate on a tie). Then KDRL's KD coefficient over ``kd_grid`` at its
   rate (same steps) and, when the logic pair is usable, the logic references (and, with
   ``logic_search``, the same two searches on logic; otherwise logic takes the math choices).
   Everything chosen is recorded in ``OUT/lr_search.json``.
3. ``main``: every method x ``seeds`` seeds at its chosen settings, the RLAD ablations
   (``ablation_seeds`` seeds, RLAD's rate) and the logic comparison (``logic_seeds`` seeds, at the
   logic family's own sizes, ``Family.mode_overrides``).
4. ``cost``, alone on the machine: GRPO / KDRL / RLAD side by side in one process, then teacher-scoring
   memory, chunked vs naive (:mod:`benchmarks.cost`).
5. ``report``: ``OUT/report.md``, ``OUT/report.json`` and ``OUT/plots/*.png`` (:mod:`benchmarks.report`).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.settings import (  # noqa: E402
    ABLATIONS,
    FULL,
    QUICK,
    Family,
    Mode,
    bench_references,
    bench_run,
    logic_family,
    math_family,
)
from rlad.compare.methods import kd_overrides  # noqa: E402
from rlad.compare.pool import Job, run_job, run_jobs, spec_job  # noqa: E402
from rlad.compare.results import curve, read_metrics  # noqa: E402
from rlad.compare.spec import RunSpec  # noqa: E402
from rlad.files import write_json_atomic  # noqa: E402

PHASES = ("search", "tune", "main", "cost", "report")
FAMILIES = ("math", "logic")
TRANSFERRED = "the math family's choices (this mode has no logic search)"


class Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = time.time()

    def __call__(self, message: str) -> None:
        line = f"[{time.time() - self.start:7.1f} s] {message}"
        print(line, flush=True)
        with self.path.open("a") as fh:
            fh.write(line + "\n")


def search_specs(family: Family, mode: Mode, out: Path) -> list[RunSpec]:
    return [
        bench_run(family, mode, out, "lr_search", f"{method}_lr{lr:g}", method, 0, lr, mode.lr_search_steps)
        for method in mode.methods
        for lr in mode.lr_grid
    ]


def validation_score(spec: RunSpec) -> float | None:
    """Mean of the last two validation points of a finished run (None if it has none)."""
    values = [v for _, v in curve(read_metrics(spec.output_dir / "metrics.jsonl"), "eval/mean_at_k")]
    return sum(values[-2:]) / len(values[-2:]) if values else None


def best_of(scores: dict[float, float | None], default: float) -> float:
    """The value with the best score (the smaller value on a tie); ``default`` when nothing finished."""
    defined = {v: score for v, score in scores.items() if score is not None}
    return max(sorted(defined), key=lambda v: defined[v]) if defined else default


def choose_rates(specs: list[RunSpec], mode: Mode) -> dict[str, dict]:
    """Per method: every rate's validation score and the chosen rate (best; smaller on a tie)."""
    chosen = {}
    for method in mode.methods:
        scores = {s.tags["learning_rate"]: validation_score(s) for s in specs if s.method == method}
        best = best_of(scores, mode.lr_grid[0])
        chosen[method] = {"scores": {f"{lr:g}": v for lr, v in scores.items()}, "chosen": best}
    return chosen


def kd_specs(family: Family, mode: Mode, out: Path, rates: dict[str, dict]) -> list[RunSpec]:
    """KDRL at its chosen rate for every KD coefficient of ``kd_grid`` (the default's run is the lr search's)."""
    if "kdrl" not in mode.methods:
        return []
    lr = rates["kdrl"]["chosen"]

    def spec(beta: float) -> RunSpec:
        if not kd_overrides(beta):  # the default coefficient: the lr search's own run at this rate
            return bench_run(
                family, mode, out, "lr_search", f"kdrl_lr{lr:g}", "kdrl", 0, lr, mode.lr_search_steps
            )
        tag = f"kdrl_beta{beta:g}"
        return bench_run(
            family, mode, out, "kd_search", tag, "kdrl", 0, lr, mode.lr_search_steps, kd_overrides(beta)
        )

    return [spec(beta) for beta in mode.kd_grid]


def choose_kd(specs: list[RunSpec], rates: dict[str, dict], mode: Mode) -> None:
    """Record KDRL's KD-coefficient scores and choice in ``rates["kdrl"]`` (in place)."""
    if not specs:
        return
    scores = {beta: validation_score(s) for beta, s in zip(mode.kd_grid, specs)}
    default = next((b for b in mode.kd_grid if not kd_overrides(b)), mode.kd_grid[0])
    rates["kdrl"]["kd_scores"] = {f"{b:g}": v for b, v in scores.items()}
    rates["kdrl"]["kd_beta"] = best_of(scores, default)


def chosen_overrides(method: str, rates: dict[str, dict]) -> dict:
    """The searched settings of ``method`` beyond its rate (KDRL's KD coefficient)."""
    return kd_overrides(rates[method]["kd_beta"]) if "kd_beta" in rates.get(method, {}) else {}


def main_specs(family: Family, mode: Mode, out: Path, rates: dict[str, dict], seeds: int) -> list[RunSpec]:
    def spec(method: str, seed: int) -> RunSpec:
        lr, extra = rates[method]["chosen"], chosen_overrides(method, rates)
        return bench_run(family, mode, out, "main", method, method, seed, lr, mode.steps, extra)

    return [spec(method, seed) for seed in range(seeds) for method in mode.methods]


def ablation_specs(family: Family, mode: Mode, out: Path, rates: dict[str, dict]) -> list[RunSpec]:
    lr = rates["rlad"]["chosen"]
    return [
        bench_run(family, mode, out, "ablation", name, "rlad", seed, lr, mode.ablation_steps, ABLATIONS[name])
        for seed in range(mode.ablation_seeds)
        for name in mode.ablations
    ]


def logic_pair_job(mode: Mode, out: Path) -> Job:
    folder = out / "logic_models"
    argv = [
        sys.executable,
        "-m",
        "benchmarks.logic",
        "--out",
        str(folder),
        "--steps",
        str(mode.logic_build_steps),
    ]
    return Job("logic/models", argv, folder, folder / "pair.json")


def cost_job(mode: Mode, out: Path, rates: dict[str, dict]) -> Job:
    """The side-by-side cost run (:mod:`benchmarks.cost`) at RLAD's rate, the math family's batch."""
    spec = bench_run(
        math_family(), mode, out, "cost", "cost", "grpo", 0, rates["math"]["rlad"]["chosen"], mode.cost_steps
    )
    folder = out / "cost"
    folder.mkdir(parents=True, exist_ok=True)
    plan = {"spec": spec.to_json(), "mode": dataclasses.asdict(mode)}
    write_json_atomic(folder / "spec.json", plan)
    argv = [sys.executable, "-m", "benchmarks.cost", str(folder / "spec.json"), str(folder / "cost.json")]
    return Job("cost", argv, folder, folder / "cost.json")


def run_benchmark(mode: Mode, out: Path, phases: tuple[str, ...] = PHASES) -> dict:
    """Run the phases of ``mode`` into ``out``; returns what ``OUT/benchmark.json`` records."""
    from benchmarks.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "benchmark.log")
    math = math_family()
    record_path = out / "benchmark.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    record.update(mode=dataclasses.asdict(mode), phase_seconds=record.get("phase_seconds", {}))
    started = time.time()
    record["failures"] = {}  # of this invocation

    def phase(name: str, jobs: list[Job]) -> list[dict]:
        t0 = time.time()
        log(f"phase {name}: {len(jobs)} job(s), {mode.workers} at a time")
        results = run_jobs(jobs, mode.workers, log)
        if any(not r.get("reused") for r in results):  # a resumed phase adds its time to the earlier one
            record["phase_seconds"][name] = round(
                record["phase_seconds"].get(name, 0.0) + time.time() - t0, 1
            )
        record["failures"].setdefault(name, []).extend(r for r in results if not r["ok"])
        return results

    searches = search_specs(math, mode, out)
    pair_path = out / "logic_models" / "pair.json"
    if "search" in phases:
        jobs = [logic_pair_job(mode, out)] if mode.logic else []
        jobs += [spec_job(s) for s in bench_references(math, mode, out) + searches]
        phase("search", jobs)
    rates = {"math": choose_rates(searches, mode)}
    logic = None
    if mode.logic and pair_path.is_file() and json.loads(pair_path.read_text()).get("usable"):
        logic = logic_family(out / "logic_models")
    elif mode.logic and pair_path.is_file():
        log("logic: the teacher or student missed its target (see logic_models/pair.json); no logic runs")
    elif mode.logic:
        log("logic: no teacher / student built yet (the search phase builds them); no logic runs")
    logic_mode = logic.mode(mode) if logic else mode
    logic_searches = search_specs(logic, logic_mode, out) if logic and mode.logic_search else []
    if logic:
        rates["logic"] = choose_rates(logic_searches, mode)

    searched = [("math", math, mode)] + (
        [("logic", logic, logic_mode)] if logic and mode.logic_search else []
    )
    kd = {name: kd_specs(family, fmode, out, rates[name]) for name, family, fmode in searched}
    if "tune" in phases:
        jobs = [spec_job(s) for s in kd["math"]]
        if logic:
            # the logic references (evaluation only) and, with logic_search, the logic rate search
            jobs += [spec_job(s) for s in bench_references(logic, mode, out) + logic_searches]
        phase("tune", jobs)
        if logic and mode.logic_search:  # the logic KD search needs the logic rates, known only now
            rates["logic"] = choose_rates(logic_searches, mode)
            kd["logic"] = kd_specs(logic, logic_mode, out, rates["logic"])
            phase("tune", [spec_job(s) for s in kd["logic"]])
    for name, specs in kd.items():
        choose_kd(specs, rates[name], mode)
    record_rates: dict = dict(rates)
    if logic and not mode.logic_search:
        rates["logic"] = copy.deepcopy(rates["math"])
        record_rates["logic"] = TRANSFERRED
    write_json_atomic(out / "lr_search.json", record_rates)
    for name, chosen in rates.items():
        kd_text = (
            f", KDRL KD coefficient {chosen['kdrl']['kd_beta']:g}"
            if "kd_beta" in chosen.get("kdrl", {})
            else ""
        )
        log(f"{name} rates: " + ", ".join(f"{m} {r['chosen']:g}" for m, r in chosen.items()) + kd_text)

    if "main" in phases:
        specs = main_specs(math, mode, out, rates["math"], mode.seeds) + ablation_specs(
            math, mode, out, rates["math"]
        )
        if logic:
            specs += main_specs(logic, logic_mode, out, rates["logic"], mode.logic_seeds)
        phase("main", [spec_job(s) for s in specs])

    if "cost" in phases:
        t0 = time.time()
        log("phase cost: alone on the machine")
        result = run_job(cost_job(mode, out, rates), log)
        if not result.get("reused"):
            record["phase_seconds"]["cost"] = round(time.time() - t0, 1)
        record["failures"]["cost"] = [] if result["ok"] else [result]

    record["last_invocation_seconds"] = round(time.time() - started, 1)
    record.setdefault("invocations", []).append(
        {"phases": list(phases), "seconds": record["last_invocation_seconds"], "date": time.strftime("%F %T")}
    )
    record["total_seconds"] = round(sum(record["phase_seconds"].values()), 1)
    write_json_atomic(record_path, record)
    if "report" in phases:
        report = write_report(out, mode)
        log(f"report: {report}")
    log(f"finished: this invocation {record['last_invocation_seconds']:.0f} s")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI-sized mode (a few minutes)")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: benchmarks/runs/<mode>)"
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    parser.add_argument("--seeds", type=int, default=None, help="override the mode's seeds (main comparison)")
    parser.add_argument(
        "--workers", type=int, default=None, help="training processes at once (default 2, one per core)"
    )
    parser.add_argument(
        "--logic-search",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="search the logic family's own rates and KD coefficient, or take the math family's "
        "(default: the mode's setting; the full mode searches)",
    )
    parser.add_argument(
        "--families",
        default=None,
        help=f"comma-separated subset of {','.join(FAMILIES)}; math is always run (its search and batch size "
        "the cost run, and logic may take its rates) (default: the mode's families)",
    )
    parser.add_argument(
        "--lr-grid",
        default=None,
        help="comma-separated learning rates searched for every method (default: the mode's grid); "
        "finished search runs at rates already tried are reused",
    )
    parser.add_argument(
        "--ablations",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the mode's RLAD ablations (math); --no-ablations leaves them out",
    )
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.families is not None:
        families = [f.strip() for f in args.families.split(",") if f.strip()]
        unknown = [f for f in families if f not in FAMILIES]
        if unknown or "math" not in families:
            parser.error(f"--families must name math and may add logic; got {args.families!r}")
        if "logic" not in families:
            mode = dataclasses.replace(mode, logic=False, logic_seeds=0, logic_search=False)
    if not args.ablations:
        mode = dataclasses.replace(mode, ablations=())
    if args.lr_grid is not None:
        try:
            grid = tuple(sorted({float(x) for x in args.lr_grid.split(",") if x.strip()}))
        except ValueError:
            grid = ()
        if not grid or min(grid) <= 0:
            parser.error(f"--lr-grid must be positive numbers separated by commas, got {args.lr_grid!r}")
        mode = dataclasses.replace(mode, lr_grid=grid)
    if args.logic_search is not None:
        mode = dataclasses.replace(mode, logic_search=args.logic_search)
    if args.seeds is not None:
        mode = dataclasses.replace(mode, seeds=args.seeds)
    if args.workers is not None:
        if args.workers < 1:
            parser.error(f"--workers must be >= 1, got {args.workers}")
        mode = dataclasses.replace(mode, workers=args.workers)
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        parser.error(f"unknown phase(s) {unknown}; valid: {', '.join(PHASES)}")
    out = args.out or Path(__file__).resolve().parent / "runs" / mode.name
    run_benchmark(mode, out, phases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
