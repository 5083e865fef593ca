"""Writing result files so that a crash never leaves half of one behind.

Every report, summary and marker rlad writes (``eval.json``, ``summary.json``, ``done.json``,
``results.md`` ...) goes through :func:`write_text_atomic`: the text is written to a temporary file in
the same folder and moved over the target with ``os.replace``, which is atomic on POSIX and Windows.
A reader (or a resumed ``rlad compare``) sees the old file or the new one, never a truncated one.
Append-only logs (``metrics.jsonl``) are not written this way: a torn last line is dropped on read.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open(path, "w") would give; mkstemp's own is 0o600


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating the folder; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, data: Any, indent: int | None = 1) -> Path:
    """``data`` as JSON (non-JSON values as strings, non-ASCII kept), written atomically."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, default=str) + "\n"
    return write_text_atomic(path, text)


def check_writable_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Prove a file can be written in ``path`` before any long work, leaving nothing behind.

    The folders that must be created for the probe are removed again afterwards (deepest first, only
    those this call created and only while still empty), so a command that fails on a later check
    leaves no empty ``eval_results/...`` or ``compare/...`` behind; the writers create ``path`` when
    they first write there (``write_*_atomic``, the Trainer). Raises ``PermissionError``/
    ``NotADirectoryError``/``OSError`` with a one-line message naming the folder, so a command fails in
    a second rather than after hours of training or evaluation.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} {str(path)!r} is a file, not a folder")
    created = _missing_folders(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".rlad-write-check.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OSError(f"{what} {str(path)!r} is not writable: {reason}") from err
    finally:
        _remove_empty(created)
    return path


@contextlib.contextmanager
def no_empty_folders_on_failure(path: str | os.PathLike) -> Iterator[None]:
    """Within the block, a failure removes the folders up to ``path`` that did not exist before it and
    are still empty (what a library's constructor made before it raised), then re-raises."""
    created = _missing_folders(Path(path))
    try:
        yield
    except BaseException:
        _remove_empty(created)
        raise


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first (what ``mkdir -p`` would create)."""
    missing = []
    while not os.path.lexists(path) and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove each folder in order if it exists and is empty (``rmdir`` refuses any other)."""
    for folder in folders:
        # OSError: never created (mkdir failed above it), or not empty (someone wrote there meanwhile)
        with contextlib.suppress(OSError):
            folder.rmdir()


def check_model_folder(spec: str, what: str = "model") -> None:
    """A local model folder must hold ``config.json``; otherwise ``FileNotFoundError`` with one line
    (and the likely intended folder: a run's ``final/`` or its newest checkpoint).

    Transformers' own error for such a folder is five lines about tokenizer conversion. Hub names and
    ``toy:`` specs are not folders and pass.
    """
    path = Path(spec).expanduser()
    if not path.is_dir() or (path / "config.json").is_file():
        return
    hint = ""
    candidates = [path / "final", *sorted(path.glob("checkpoint-*"), key=lambda p: p.stat().st_mtime)[-1:]]
    for candidate in candidates:
        if (candidate / "config.json").is_file():
            hint = f"; did you mean {str(candidate)!r}?"
            break
    raise FileNotFoundError(f"{what} folder {str(path)!r} has no config.json (not a saved model){hint}")
