"""The examples in the task modules' docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "base",
    "loading",
    "kk_logic",
    "kk_verifier",
    "kk_compact",
    "kk_chain",
    "math_extract",
    "math_compare",
    "arithmetic",
    "code",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(f"rlad.tasks.{name}"))
    assert result.attempted > 0 and result.failed == 0
