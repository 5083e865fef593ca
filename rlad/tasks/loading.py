"""Reading task records from local files, directories, saved datasets or the Hugging Face hub.

`read_records` accepts:

- a file: ``.jsonl`` (one JSON object a line), ``.json`` (a list of objects, or JSON lines) or ``.parquet``;
- a directory written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``;
- any other directory: the data files under it whose path names the split as a word
  (``3ppl_train.parquet``, ``test/part-0.jsonl``, ``train.jsonl``);
- the name of a data set shipped inside the package (`SHIPPED`: ``kk``, ``gsm8k``, ``aime24``,
  ``amc23``; see ``rlad/data/README.md`` for their sources and licences). A shipped name wins over a
  local folder of the same name (write ``./kk`` for that), so a name means the same data everywhere;
- otherwise a hub name for ``datasets.load_dataset`` (extra keyword arguments go to it, e.g. ``name``).

`split_of` assigns generated examples to train or test by a hash of their content, so the two splits
never share an example whatever the seeds.

Every record carries an ``_origin`` (``"file.jsonl:12"``) so that `get_field` can name the file, the
record and the field in its error message.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets

from rlad.tasks.base import TaskDataError

DATA_SUFFIXES = (".jsonl", ".json", ".parquet")
ORIGIN = "_origin"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"  # rlad/data, installed with the package
# name -> (path under DATA_DIR, the splits it holds). The math sets are evaluation sets: test only.
SHIPPED: dict[str, tuple[str, tuple[str, ...]]] = {
    "kk": ("kk", ("train", "test")),
    "gsm8k": ("math/gsm8k_test.jsonl", ("test",)),
    "aime24": ("math/aime24.jsonl", ("test",)),
    "amc23": ("math/amc23.jsonl", ("test",)),
}


def read_records(source: str, split: str = "train", **hub_kwargs: Any) -> list[dict[str, Any]]:
    """All records of `source` (see the module docstring), each with an ``_origin`` key."""
    if source in SHIPPED:
        source = str(shipped_path(source, split))
    path = Path(source).expanduser()
    if path.is_file():
        return _read_file(path)
    if path.is_dir():
        return _read_dir(path, split)
    if _looks_like_path(source):
        raise TaskDataError(f"data source {source!r} does not exist (no such file or directory)")
    return _read_hub(source, split, **hub_kwargs)


def shipped_path(name: str, split: str) -> Path:
    """Where the shipped data set `name` lives; refuses a split it does not hold.

    Reading the GSM8K test file for ``split="train"`` would train on the test set without a word, so
    the math sets answer only ``"test"``.

    >>> shipped_path("aime24", "test").name
    'aime24.jsonl'
    """
    if name not in SHIPPED:
        raise TaskDataError(f"no shipped data set {name!r}; shipped: {', '.join(SHIPPED)}")
    relative, splits = SHIPPED[name]
    if split not in splits:
        raise TaskDataError(
            f"the shipped {name!r} holds only split(s) {', '.join(splits)}, not {split!r}; "
            "pass source= a file, directory or hub dataset for other splits"
        )
    return DATA_DIR / relative


def get_field(record: Mapping[str, Any], name: str) -> Any:
    """``record[name]``, or a `TaskDataError` naming the record's file, the field and the fields present."""
    if name in record and record[name] is not None:
        return record[name]
    present = sorted(k for k in record if k != ORIGIN)
    raise TaskDataError(
        f"{record.get(ORIGIN, '<record>')}: missing field {name!r}; fields present: {present}"
    )


def first_field(record: Mapping[str, Any], names: Sequence[str]) -> Any:
    """The first of `names` present in `record` (e.g. ``("problem", "question")``)."""
    for name in names:
        if record.get(name) is not None:
            return record[name]
    present = sorted(k for k in record if k != ORIGIN)
    raise TaskDataError(
        f"{record.get(ORIGIN, '<record>')}: none of the fields {list(names)} is present; fields present: {present}"
    )


def sample(records: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    """`limit` records drawn without replacement (seeded), kept in their original order."""
    if limit is not None and limit < 0:
        raise TaskDataError(f"limit must be >= 0, got {limit}")
    if limit is None or limit >= len(records):
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]


def split_of(key: str, test_fraction: float = 0.1) -> str:
    """``"test"`` for a fixed `test_fraction` of all keys (by hash), else ``"train"``.

    >>> split_of("anything", 0.0), split_of("anything", 1.0)
    ('train', 'test')
    """
    bucket = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % 1_000_000
    return "test" if bucket < test_fraction * 1_000_000 else "train"


def to_dataset(rows: list[dict[str, Any]], what: str) -> datasets.Dataset:
    """A `datasets.Dataset` from finished rows; refuses to return an empty one silently."""
    if not rows:
        raise TaskDataError(f"{what}: no records")
    return datasets.Dataset.from_list(rows)


def _looks_like_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or Path(source).suffix in DATA_SUFFIXES or source.count("/") > 1


def _read_file(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            # opened here, not by pyarrow's C++ code, so Python's audit hooks see the read (the test
            # suite uses one to fail any read outside the repository: tests/outside_reads.py)
            with path.open("rb") as handle:
                rows = pq.read_table(handle).to_pylist()
        except Exception as err:  # pyarrow raises several types for corrupt files
            raise TaskDataError(f"{path}: cannot read parquet file ({err})") from err
        return [{**row, ORIGIN: f"{path}:{i}"} for i, row in enumerate(rows)]
    if suffix in (".jsonl", ".json"):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise TaskDataError(f"{path}: cannot read file ({err})") from err
        if suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None  # maybe JSON lines under a .json name
            if isinstance(data, Mapping) and len(data) == 1 and isinstance(next(iter(data.values())), list):
                data = next(iter(data.values()))
            if isinstance(data, list):
                return [_as_record(row, f"{path}:{i}") for i, row in enumerate(data)]
        return _read_json_lines(path, text)
    raise TaskDataError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(DATA_SUFFIXES)}")


def _read_json_lines(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise TaskDataError(f"{path}:{lineno}: invalid JSON ({err.msg})") from err
        rows.append(_as_record(row, f"{path}:{lineno}"))
    return rows


def _as_record(row: Any, origin: str) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise TaskDataError(f"{origin}: expected a JSON object, got {type(row).__name__}")
    return {**row, ORIGIN: origin}


def _read_dir(path: Path, split: str) -> list[dict[str, Any]]:
    if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        try:
            loaded = datasets.load_from_disk(str(path))
        except Exception as err:
            raise TaskDataError(f"{path}: cannot load saved dataset ({err})") from err
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise TaskDataError(f"{path}: no split {split!r}; splits: {sorted(loaded)}")
            loaded = loaded[split]
        return [{**row, ORIGIN: f"{path}[{split}]:{i}"} for i, row in enumerate(loaded.to_list())]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
    word = re.compile(rf"(^|[^a-z]){re.escape(split.lower())}([^a-z]|$)")
    chosen = [p for p in files if word.search(str(p.relative_to(path)).lower())]
    if not chosen:
        listing = ", ".join(str(p.relative_to(path)) for p in files[:20]) or "none"
        raise TaskDataError(f"{path}: no data file for split {split!r}; data files found: {listing}")
    return [row for p in chosen for row in _read_file(p)]


def _read_hub(name: str, split: str, **hub_kwargs: Any) -> list[dict[str, Any]]:
    try:
        loaded = datasets.load_dataset(name, split=split, **hub_kwargs)
    except Exception as err:  # offline mode, unknown name, bad config: all end here
        raise TaskDataError(
            f"cannot load {name!r} (split {split!r}) as a local path or hub dataset: {type(err).__name__}: {err}"
        ) from err
    return [{**row, ORIGIN: f"{name}[{split}]:{i}"} for i, row in enumerate(loaded.to_list())]
