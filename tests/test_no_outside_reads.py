"""The repository carries everything it needs: nothing reads a path outside it (issue 14).

Three checks: the audit plugin (``tests/outside_reads.py``, active in every session) really fails a
pytest run that opens a file beside the repository; the task loaders with their default sources read
the shipped copies and nothing outside; and no source, test, recipe or document names the folder
beside the repository that our own machines used to read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import outside_reads
import pytest

from rlad.tasks import get_task
from rlad.tasks.loading import DATA_DIR

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
# '../shared', 'shared/data', 'shared/spec', 'shared/STYLE': the sibling folder of our own checkouts
SIBLING = re.compile(r"\.\./shared\b|\bshared/(data|spec|STYLE)\b")
SCANNED = ("rlad", "tests", "recipes", "benchmarks", "docs", ".ci")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".ini", ".json", ".sh", ""}
SKIPPED_DIRS = {"__pycache__", "runs", "checkpoints"}  # checkpoints: tokenizer files of the demo models


def _pytest(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    """Run a one-test pytest session in `tmp_path` with the audit plugin loaded; returns the process."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_probe.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "outside_reads",
        "-p",
        "no:cacheprovider",
        "-q",
        "test_probe.py",
    ]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_a_read_beside_the_repository_fails_the_session(tmp_path):
    # A file that does not exist: the audit event fires before the open fails, so nothing is read.
    target = REPO.parent / "shared" / f"rlad-audit-probe-{uuid.uuid4().hex}.txt"
    body = (
        "def test_reads_beside_the_repo():\n"
        "    try:\n"
        f"        open({str(target)!r}).read()\n"
        "    except OSError:\n"
        "        pass\n"
    )
    run = _pytest(tmp_path, body)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "1 passed" in out  # the test itself passed: the plugin failed the session
    assert f"{target}  <- test_probe.py::test_reads_beside_the_repo" in out, out


def test_a_read_inside_the_repository_passes(tmp_path):
    body = f"def test_reads_inside():\n    assert open({str(REPO / 'README.md')!r}).read()\n"
    run = _pytest(tmp_path, body)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "outside the repository" not in run.stdout + run.stderr


def test_what_counts_as_outside():
    home = Path.home()
    assert not outside_reads.is_outside(str(REPO / "rlad" / "__init__.py"))
    assert not outside_reads.is_outside(str(Path(sys.prefix) / "lib" / "x.py"))
    assert not outside_reads.is_outside("/proc/self/status") and not outside_reads.is_outside("/etc/hosts")
    assert not outside_reads.is_outside(str(home / ".cache" / "huggingface" / "token"))
    assert outside_reads.is_outside(str(REPO.parent / "shared" / "data" / "README.md"))
    assert outside_reads.is_outside(f"/rlad-no-such-top-level-dir-{uuid.uuid4().hex}/data.jsonl")


def test_a_link_inside_the_repository_counts_where_it_points(tmp_path, monkeypatch):
    # tmp_path plays the repository, so the real one never holds the trap, even for a moment
    monkeypatch.setattr(outside_reads, "_REPO_PREFIX", str(tmp_path) + os.sep)
    (tmp_path / "inside.txt").write_text("x")
    (tmp_path / "escape").symlink_to(f"/rlad-no-such-top-level-dir-{uuid.uuid4().hex}")
    assert not outside_reads.is_outside(str(tmp_path / "inside.txt"))
    assert outside_reads.is_outside(str(tmp_path / "escape" / "data.jsonl"))


@pytest.mark.parametrize(
    ("name", "options", "split", "rows", "files"),
    [
        ("kk", {}, "test", 500, {f"kk/{n}ppl_test.parquet" for n in range(3, 8)}),
        ("kk", {"n_people": [3]}, "train", 900, {f"kk/{n}ppl_train.parquet" for n in range(3, 8)}),
        ("gsm8k", {}, "test", 1319, {"math/gsm8k_test.jsonl"}),
        ("math", {}, "test", 70, {"math/aime24.jsonl", "math/amc23.jsonl"}),
    ],
)
def test_default_sources_read_the_shipped_copies_and_nothing_outside(name, options, split, rows, files):
    with outside_reads.capture() as seen:
        ds = get_task(name, **options).load(split=split)
    assert len(ds) == rows
    read = {Path(p).relative_to(DATA_DIR).as_posix() for p in seen if Path(p).is_relative_to(DATA_DIR)}
    assert files <= read, read  # the hook saw the data files themselves (parquet included)
    assert [p for p in seen if outside_reads.is_outside(p)] == []


def _text_files():
    for top in SCANNED:
        for root, dirs, files in os.walk(REPO / top):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
            for name in files:
                path = Path(root) / name
                if path.suffix in TEXT_SUFFIXES and path != Path(__file__).resolve():
                    yield path
    yield from (REPO / name for name in ("README.md", "Makefile", "pyproject.toml"))


def test_nothing_names_the_folder_beside_the_repository():
    files = list(_text_files())
    assert len(files) > 100 and REPO / "rlad" / "tasks" / "loading.py" in files
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [
            f"{path.relative_to(REPO)}:{i}: {line.strip()}"
            for i, line in enumerate(text.splitlines(), start=1)
            if SIBLING.search(line)
        ]
    assert found == [], "\n".join(found)
