"""The examples in the toy modules' docstrings are true."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["tokenizer", "sft"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(f"rlad.toy.{name}"))
    assert result.attempted > 0 and result.failed == 0
