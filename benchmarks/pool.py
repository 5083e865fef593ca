"""Run benchmark jobs as subprocesses, at most ``workers`` at once, each single-threaded.

On the 2-core machine a tiny model trains about 10x faster with one OpenMP thread than with the default
(the threads fight each other and other users), so every job gets ``OMP_NUM_THREADS=1`` and two jobs
run side by side. A job whose ``done.json`` exists is skipped when the run's spec is unchanged (`run_fingerprint`):
an interrupted benchmark continues where it stopped, and a changed setting reruns only what it changes. A failed job is recorded (its log tail) and the others go on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.settings import RunSpec, run_fingerprint

REPO = Path(__file__).resolve().parent.parent


def single_thread_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


@dataclass
class Job:
    """A command that writes ``marker`` when it succeeds."""

    name: str
    argv: list[str]
    folder: Path
    marker: Path


def worker_job(spec: RunSpec) -> Job:
    """The job that trains/evaluates ``spec`` (its spec is written to ``OUT/runs/<name>/spec.json``)."""
    folder = spec.out_dir
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "spec.json"
    done_path = folder / "done.json"
    if done_path.is_file() and (
        not spec_path.is_file() or run_fingerprint(json.loads(spec_path.read_text())) != spec.fingerprint()
    ):
        done_path.replace(folder / "done.stale.json")  # finished under other settings: run again
    spec_path.write_text(json.dumps(spec.to_json(), indent=1, default=str) + "\n")
    return Job(
        spec.name, [sys.executable, "-m", "benchmarks.worker", str(spec_path)], folder, folder / "done.json"
    )


def run_job(job: Job, log: Callable[[str], None]) -> dict[str, Any]:
    """Run one job (or reuse its marker); returns ``{"name", "ok", "seconds", "error"}``."""
    if job.marker.is_file():
        log(f"  {job.name}: done before, reused")
        return {"name": job.name, "ok": True, "seconds": 0.0, "reused": True}
    job.folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with (job.folder / "log.txt").open("w") as fh:
        proc = subprocess.run(
            job.argv, cwd=REPO, env=single_thread_env(), stdout=fh, stderr=subprocess.STDOUT
        )
    seconds = round(time.time() - started, 1)
    ok = proc.returncode == 0 and job.marker.is_file()
    error = None
    if not ok:
        tail = (job.folder / "log.txt").read_text().strip().splitlines()[-3:]
        error = f"exit {proc.returncode}: " + " | ".join(tail)
    log(f"  {job.name}: {'ok' if ok else 'FAILED'} in {seconds:.0f} s" + (f" ({error})" if error else ""))
    return {"name": job.name, "ok": ok, "seconds": seconds, "error": error}


def run_jobs(jobs: Sequence[Job], workers: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """All ``jobs``, ``workers`` at a time, in the given order of start."""
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda job: run_job(job, log), jobs))
