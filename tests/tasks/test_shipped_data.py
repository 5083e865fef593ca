"""The data shipped in rlad/data: unchanged copies (checksums), installed with the package, read by name."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from pathlib import Path

import pytest

from rlad.tasks import TaskDataError, get_task
from rlad.tasks.loading import DATA_DIR, SHIPPED, read_records, shipped_path

REPO = Path(__file__).resolve().parents[2]


def _shipped_files() -> list[str]:
    return sorted(p.relative_to(DATA_DIR).as_posix() for p in DATA_DIR.rglob("*") if p.is_file())


def test_every_file_matches_the_checksum_its_readme_records():
    readme = (DATA_DIR / "README.md").read_text()
    recorded = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M))
    files = [f for f in _shipped_files() if f != "README.md"]
    assert len(files) == 13 and sorted(recorded) == files
    for name in files:
        assert hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest() == recorded[name], name


def test_package_data_globs_install_every_shipped_file():
    # pyproject.toml: "rlad" = [...] under [tool.setuptools.package-data]; a non-editable install
    # (pip install ., a wheel) carries exactly the files these globs match
    text = (REPO / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    globs = json.loads(re.search(r'^"rlad" = (\[.*\])$', section, re.M).group(1))
    missing = [f for f in _shipped_files() if not any(fnmatch.fnmatch(f"data/{f}", g) for g in globs)]
    assert missing == []


def test_names_resolve_to_the_shipped_files_and_math_sets_are_test_only():
    assert set(SHIPPED) == {"kk", "gsm8k", "aime24", "amc23"}
    assert shipped_path("kk", "train") == DATA_DIR / "kk"
    assert len(read_records("amc23", split="test")) == 40
    with pytest.raises(TaskDataError, match=r"the shipped 'gsm8k' holds only split\(s\) test, not 'train'"):
        get_task("gsm8k").load()  # the default split is train: the test set must not become training data
    with pytest.raises(TaskDataError, match=r"the shipped 'aime24' holds only"):
        get_task("math").load("aime24", split="train")
    with pytest.raises(TaskDataError, match=r"no shipped data set 'mbpp'; shipped: kk, gsm8k, aime24, amc23"):
        shipped_path("mbpp", "test")


def test_a_shipped_name_wins_over_a_local_folder_and_dot_slash_reads_the_folder(tmp_path, monkeypatch):
    local = tmp_path / "kk"
    local.mkdir()
    record = {"quiz": "Q", "names": ["Ann", "Bo"], "solution": [True, False]}
    (local / "test.jsonl").write_text(json.dumps(record) + "\n")
    monkeypatch.chdir(tmp_path)
    task = get_task("kk")
    assert len(task.load("kk", split="test")) == 500
    local_rows = task.load("./kk", split="test")
    assert len(local_rows) == 1 and local_rows[0]["names"] == ["Ann", "Bo"]


def test_default_math_sources_keep_their_subsets():
    ds = get_task("math").load(split="test", limit=20, seed=0)
    assert len(ds) == 20 and set(ds["subset"]) == {"aime24", "amc23"}
