"""Reading records from files, directories, saved datasets and the `datasets` builders."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from rlad.tasks import TaskDataError
from rlad.tasks.loading import ORIGIN, get_field, read_records, sample, split_of

ROWS = [
    {"question": "1+1?", "answer": "2"},
    {"question": "2+2?", "answer": "4"},
    {"question": "3+3?", "answer": "6"},
]


def _strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != ORIGIN} for r in records]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_json_and_parquet_files(tmp_path):
    jsonl = _write_jsonl(tmp_path / "a.jsonl", ROWS)
    (tmp_path / "b.json").write_text(json.dumps(ROWS))
    (tmp_path / "c.json").write_text(json.dumps({"data": ROWS}))
    datasets.Dataset.from_list(ROWS).to_parquet(str(tmp_path / "d.parquet"))
    for name in ("a.jsonl", "b.json", "c.json", "d.parquet"):
        assert _strip(read_records(str(tmp_path / name))) == ROWS, name
    assert read_records(str(jsonl))[1][ORIGIN] == f"{jsonl}:2"


def test_directory_picks_files_naming_the_split(tmp_path):
    _write_jsonl(tmp_path / "3ppl_train.jsonl", ROWS[:2])
    _write_jsonl(tmp_path / "3ppl_test.jsonl", ROWS[2:])
    (tmp_path / "4ppl").mkdir()
    _write_jsonl(tmp_path / "4ppl" / "test.jsonl", ROWS[:1])
    assert _strip(read_records(str(tmp_path), split="train")) == ROWS[:2]
    assert _strip(read_records(str(tmp_path), split="test")) == ROWS[2:] + ROWS[:1]
    with pytest.raises(
        TaskDataError, match="no data file for split 'validation'; data files found: 3ppl_test.jsonl"
    ):
        read_records(str(tmp_path), split="validation")


def test_saved_dataset_and_dataset_dict(tmp_path):
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "single"))
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(ROWS[:2]), "test": datasets.Dataset.from_list(ROWS[2:])}
    ).save_to_disk(str(tmp_path / "dict"))
    assert _strip(read_records(str(tmp_path / "single"))) == ROWS
    assert _strip(read_records(str(tmp_path / "dict"), split="test")) == ROWS[2:]
    with pytest.raises(TaskDataError, match=r"no split 'dev'; splits: \['test', 'train'\]"):
        read_records(str(tmp_path / "dict"), split="dev")


def test_hub_style_names_go_through_load_dataset(tmp_path):
    path = _write_jsonl(tmp_path / "rows.jsonl", ROWS)
    records = read_records("json", split="train", data_files=str(path), cache_dir=str(tmp_path / "cache"))
    assert _strip(records) == ROWS and records[0][ORIGIN] == "json[train]:0"
    with pytest.raises(TaskDataError, match="cannot load 'json'.*FileNotFoundError"):
        read_records("json", split="train", data_files=str(tmp_path / "missing.jsonl"))


def test_clear_errors_for_missing_and_broken_files(tmp_path):
    with pytest.raises(TaskDataError, match="nothere.jsonl' does not exist"):
        read_records(str(tmp_path / "nothere.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(TaskDataError, match=r"bad.jsonl:2: invalid JSON"):
        read_records(str(bad))
    (tmp_path / "list.jsonl").write_text("[1, 2]\n")
    with pytest.raises(TaskDataError, match="list.jsonl:1: expected a JSON object, got list"):
        read_records(str(tmp_path / "list.jsonl"))
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(TaskDataError, match="unsupported file type '.csv'"):
        read_records(str(tmp_path / "x.csv"))
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(TaskDataError, match="broken.parquet: cannot read parquet file"):
        read_records(str(tmp_path / "broken.parquet"))


def test_get_field_names_file_and_field():
    record = {"question": "q", ORIGIN: "data.jsonl:7"}
    assert get_field(record, "question") == "q"
    with pytest.raises(
        TaskDataError, match=r"data.jsonl:7: missing field 'answer'; fields present: \['question'\]"
    ):
        get_field(record, "answer")


def test_sample_is_seeded_ordered_and_bounded():
    records = [{"i": i} for i in range(100)]
    a, b, c = sample(records, 10, 0), sample(records, 10, 0), sample(records, 10, 1)
    assert a == b and a != c and len(a) == 10
    assert [r["i"] for r in a] == sorted(r["i"] for r in a)
    assert sample(records, None, 0) == records and sample(records, 1000, 0) == records
    with pytest.raises(TaskDataError, match="limit must be >= 0"):
        sample(records, -1, 0)


def test_split_of_is_a_stable_fraction():
    keys = [f"puzzle-{i}" for i in range(20_000)]
    test_share = sum(split_of(k, 0.1) == "test" for k in keys) / len(keys)
    assert 0.09 < test_share < 0.11
    assert [split_of(k, 0.1) for k in keys[:50]] == [split_of(k, 0.1) for k in keys[:50]]
