"""Shared fixtures for the task tests: the real data sets live in the repository's sibling ``shared/data``."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "../shared/data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` next to the repository; a missing copy fails the test (it is never skipped)."""
    path = SHARED_DATA.resolve()
    assert (path / "kk").is_dir() and (path / "math").is_dir(), (
        f"test data not found at {path}: the task tests need the K&K parquet files and math jsonl files "
        "in the repository's sibling directory shared/data (see shared/data/README.md)"
    )
    return path
