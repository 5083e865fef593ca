"""A training run's output folder: fresh or resumed, never silently mixed.

``rlad train`` (and ``sft-distill``) write ``checkpoint-<step>/``, ``final/`` and ``metrics.jsonl``
into ``output_dir``. Three rules keep two runs from mixing there:

* a fresh run refuses a folder that already holds a run unless asked to start over
  (:func:`prepare_fresh`), and then removes what the old run wrote, and only that;
* ``--resume`` continues from the newest *complete* checkpoint (:func:`latest_complete_checkpoint`):
  one half-written by a killed save is moved aside with a warning;
* a resumed run first cuts ``metrics.jsonl`` back to the checkpoint's step (:func:`rewind_metrics`),
  so no step is logged twice.

Pure file handling, no torch: each function is tested on folders built by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import warnings
import zipfile
from pathlib import Path

from rlad.files import write_text_atomic
from rlad.run.recipes import RecipeError

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# What a run writes into its output folder (all of it goes when a run starts over; nothing else does).
RUN_FILES = (
    "metrics.jsonl",
    "recipe.json",
    "sft_data.jsonl",
    "sft_acceptance.json",
    "eval.json",
    "eval.md",
    "done.json",
)
RUN_FOLDERS = ("final",)


class RunFolderError(RecipeError):
    """The output folder cannot be used as asked; the message says what to do instead."""


def checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every ``checkpoint-<step>`` folder, oldest first."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := CHECKPOINT.match(p.name))]
    return sorted(found)


def previous_run(output_dir: str | Path) -> list[str]:
    """The names of what an earlier run left in ``output_dir`` (empty: the folder is free)."""
    folder = Path(output_dir)
    names = [p.name for _, p in checkpoints(folder)]
    names += [name for name in RUN_FOLDERS if (folder / name).is_dir()]
    if _logged_a_step(folder / "metrics.jsonl"):
        names.append("metrics.jsonl")
    return names


def _logged_a_step(metrics: Path) -> bool:
    """Whether a ``metrics.jsonl`` records a training step (step 0 holds only set-up counts)."""
    if not metrics.is_file():
        return False
    with metrics.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and int(record.get("step", 0)) > 0:
                return True
    return False


def prepare_fresh(output_dir: str | Path, overwrite: bool) -> list[str]:
    """Make ``output_dir`` ready for a new run; returns what was removed.

    A folder holding a run is refused (``RunFolderError``) unless ``overwrite``; then the old run's
    checkpoints, ``final/`` and logs are deleted, so nothing of it survives to be resumed later.
    """
    folder = Path(output_dir)
    found = previous_run(folder)
    if not found:
        return []
    if not overwrite:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        raise RunFolderError(
            f"output_dir {str(folder)!r} already holds a run ({shown}); continue it with --resume, "
            "start over with overwrite_output_dir=true (deletes it), or set another output_dir"
        )
    removed = []
    for _, path in checkpoints(folder):
        shutil.rmtree(path)
        removed.append(path.name)
    for name in RUN_FOLDERS:
        if (folder / name).is_dir():
            shutil.rmtree(folder / name)
            removed.append(name)
    for name in RUN_FILES:
        if (folder / name).is_file():
            (folder / name).unlink()
            removed.append(name)
    return removed


def _safetensors_problem(path: Path) -> str | None:
    """Why a ``.safetensors`` file is unreadable (truncated, bad header), or None if it is whole."""
    size = path.stat().st_size
    if size < 8:
        return f"{path.name} is truncated ({size} bytes)"
    with path.open("rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        if 8 + header_len > size:
            return f"{path.name} is truncated (header past the end)"
        try:
            header = json.loads(fh.read(header_len))
        except (ValueError, UnicodeDecodeError):
            return f"{path.name} has a corrupt header"
    ends = [t["data_offsets"][1] for name, t in header.items() if name != "__metadata__"]
    expected = 8 + header_len + max(ends, default=0)
    if size < expected:
        return f"{path.name} is truncated ({size} of {expected} bytes)"
    return None


def checkpoint_problem(folder: str | Path) -> str | None:
    """Why a checkpoint cannot be resumed from (a save killed half-way), or None if it looks complete.

    Checks what a killed save leaves behind: a missing or unparsable ``trainer_state.json``, no model
    weights, a truncated ``.safetensors`` file, or a truncated torch file (torch saves zip archives,
    whose directory sits at the end: a cut file is not a zip).
    """
    folder = Path(folder)
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "trainer_state.json is missing"
    try:
        json.loads(state.read_text())
    except (ValueError, UnicodeDecodeError):
        return "trainer_state.json is not valid JSON"
    weights = [*folder.glob("*.safetensors"), *folder.glob("pytorch_model*.bin")]
    if not weights:
        return "no model weights"
    for path in sorted(folder.glob("*.safetensors")):
        problem = _safetensors_problem(path)
        if problem:
            return problem
    for pattern in ("*.pt", "*.pth", "*.bin"):
        for path in sorted(folder.glob(pattern)):
            if not zipfile.is_zipfile(path):
                return f"{path.name} is truncated or not a torch file"
    return None


def latest_complete_checkpoint(output_dir: str | Path) -> tuple[int, Path]:
    """The newest checkpoint that can be resumed from; newer broken ones are moved aside with a warning.

    A broken ``checkpoint-<step>`` becomes ``incomplete-checkpoint-<step>`` (kept for inspection, out of
    the way of the trainer's own checkpoint search and rotation).
    """
    found = checkpoints(output_dir)
    if not found:
        raise RunFolderError(f"--resume: no checkpoint-* folder in {str(output_dir)!r}")
    for step, folder in reversed(found):
        problem = checkpoint_problem(folder)
        if problem is None:
            return step, folder
        aside = folder.with_name(f"incomplete-{folder.name}")
        if aside.exists():
            shutil.rmtree(aside)
        folder.rename(aside)
        warnings.warn(
            f"--resume: {folder.name} is incomplete ({problem}), probably a save that was killed; "
            f"moved it to {aside.name} and resuming from an older checkpoint",
            stacklevel=2,
        )
    raise RunFolderError(
        f"--resume: no complete checkpoint in {str(output_dir)!r} (the broken ones are now incomplete-*)"
    )


def rewind_metrics(path: str | Path, step: int) -> int:
    """Cut ``metrics.jsonl`` back to the records of steps ``<= step`` (a resumed run logs the rest
    again); a torn last line is dropped too. Returns how many records were removed."""
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line) if line.strip() else None
        except ValueError:
            record = None
        if isinstance(record, dict) and int(record.get("step", 0)) <= step:
            kept.append(line)
        elif line.strip():
            dropped += 1
    if dropped:
        write_text_atomic(path, "".join(f"{line}\n" for line in kept))
    return dropped
