"""How many completions per second the jailed sandbox scores here (it bounds RL on the code tasks).

    python -m rlad.tasks.code.sandbox_bench --completions 200 --workers 2 4 8

Scores the reference solutions of ``code_synthetic`` test problems (8 asserts each) with
`CodeTask.score_batch`, once per worker count, after one warm-up run (the jail probe), and prints
completions per second. Each completion is one jail (bubblewrap + ``python -I -S``); the rate is bound
by process start-up, so it grows with the worker count until the CPUs are busy.
"""

from __future__ import annotations

import argparse
import time


def measure(completions: int, workers: int) -> float:
    """Completions per second for `completions` reference programs scored by `workers` jails at a time."""
    from rlad.tasks import get_task

    task = get_task("code_synthetic", max_workers=workers)
    rows = list(task.load(split="test", limit=completions))
    task.score(rows[0]["reference"], rows[0])  # warm-up: the one-off jail probe
    start = time.perf_counter()
    scores = task.score_batch([r["reference"] for r in rows], rows)
    elapsed = time.perf_counter() - start
    if not all(s.correct for s in scores):
        raise RuntimeError("a reference solution failed in the sandbox")
    return len(rows) / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=200, help="reference programs scored per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4, 8], help="jails at a time")
    args = parser.parse_args(argv)
    for workers in args.workers:
        rate = measure(args.completions, workers)
        print(f"workers={workers}: {rate:.1f} completions/s ({args.completions} completions)")


if __name__ == "__main__":
    main()
