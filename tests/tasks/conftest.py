"""Shared fixtures for the task tests: the real data sets shipped inside the package, in ``rlad/data``."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlad.tasks.loading import DATA_DIR


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``rlad/data`` (``kk/`` and ``math/``); a missing copy fails the test (it is never skipped).

    The name is older than the shipped copy: the data used to be read from outside the repository.
    """
    assert (DATA_DIR / "kk").is_dir() and (DATA_DIR / "math").is_dir(), (
        f"test data not found at {DATA_DIR}: the package should ship the K&K parquet and math jsonl files "
        "(see rlad/data/README.md)"
    )
    return DATA_DIR
