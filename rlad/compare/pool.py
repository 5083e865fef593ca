"""Run jobs as subprocesses, at most ``workers`` at once, each single-threaded.

On a 2-core machine a tiny model trains about 10x faster with one OpenMP thread than with the default
(the threads fight each other and other users), so every job gets ``OMP_NUM_THREADS=1`` and two jobs
run side by side. A job whose marker exists is reused; a failed job is recorded (its log tail) and the
others go on. A run of the harness is the job of :func:`spec_job`: its own process keeps runs
independent (RNG, memory).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlad.compare.runs import DONE, finished
from rlad.compare.spec import RunSpec
from rlad.files import write_json_atomic

REPO = Path(__file__).resolve().parents[2]  # the checkout holding rlad (and benchmarks/)


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


def spec_job(spec: RunSpec) -> Job:
    """The job that runs ``spec`` (written to ``<output_dir>/spec.json``); a ``done.json`` of other
    settings is set aside first, so the run is redone."""
    folder = spec.output_dir
    folder.mkdir(parents=True, exist_ok=True)
    finished(spec, refuse_other=False)
    spec_path = folder / "spec.json"
    write_json_atomic(spec_path, spec.to_json())
    return Job(spec.name, [sys.executable, "-m", "rlad.compare.runs", str(spec_path)], folder, folder / DONE)


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
