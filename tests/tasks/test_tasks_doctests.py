"""The examples in the task modules' docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "base",
    "loading",
    "kk.logic",
    "kk.verifier",
    "kk.compact",
    "kk.chain",
    "math_extract",
    "math_compare",
    "arithmetic",
    "code.task",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(f"rlad.tasks.{name}"))
    assert result.attempted > 0 and result.failed == 0
