"""Writing result files so that a crash never leaves half of one behind.

Every report, summary and marker rlad writes (``eval.json``, ``summary.json``, ``done.json``,
``results.md`` ...) goes through :func:`write_text_atomic`: the text is written to a temporary file in
the same folder and moved over the target with ``os.replace``, which is atomic on POSIX and Windows.
A reader (or a resumed ``rlad compare``) sees the old file or the new one, never a truncated one.
Append-only logs (``metrics.jsonl``) are not written this way: a torn last line is dropped on read.
"""

from __future__ import annotations

import json
import os
import tempfile
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
    """Create ``path`` if needed and prove a file can be written there, before any long work.

    Raises ``PermissionError``/``NotADirectoryError``/``OSError`` with a one-line message naming the
    folder, so a command fails in a second rather than after hours of training or evaluation.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} {str(path)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".rlad-write-check.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OSError(f"{what} {str(path)!r} is not writable: {reason}") from err
    return path


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
