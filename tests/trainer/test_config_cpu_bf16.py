"""``bf16=true`` on a machine without an accelerator: the config sets ``use_cpu`` itself (transformers
would refuse bf16 otherwise) and training runs bf16 autocast on the CPU; a GPU machine is left alone.
Configs only: no model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlad.run.recipes import load_recipe
from rlad.trainer import config as config_module
from rlad.trainer.config import bf16_needs_use_cpu

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "real_sums_lora.yaml"


@pytest.fixture
def no_accelerator(monkeypatch):
    """The CPU-only machine, also when these tests run on one with a GPU."""
    monkeypatch.setattr(config_module, "accelerator_available", lambda: False)


def test_bf16_on_a_cpu_only_machine_sets_use_cpu(no_accelerator):
    args = load_recipe(RECIPE, ["bf16=true"]).training_config()  # no "doesn't support bf16/gpu"
    assert (args.bf16, args.use_cpu) == (True, True)


@pytest.mark.parametrize("use_cpu", [False, True])
def test_without_bf16_use_cpu_stays_as_given(no_accelerator, use_cpu):
    args = load_recipe(RECIPE, ["bf16=false", f"use_cpu={str(use_cpu).lower()}"]).training_config()
    assert (args.bf16, args.use_cpu) == (False, use_cpu)


def test_bf16_full_eval_alone_also_sets_use_cpu(no_accelerator):
    args = load_recipe(RECIPE, ["bf16=false", "bf16_full_eval=true"]).training_config()
    assert args.use_cpu is True


@pytest.mark.parametrize(
    ("bf16", "use_cpu", "accelerator", "expected"),
    [
        (True, False, False, True),  # the case transformers refuses
        (True, False, True, False),  # a GPU machine: left alone
        (True, True, False, False),  # already set
        (False, False, False, False),  # fp32 on the CPU needs nothing
    ],
)
def test_the_decision(bf16, use_cpu, accelerator, expected):
    assert bf16_needs_use_cpu(bf16, use_cpu, accelerator) is expected


@pytest.mark.parametrize("value", [False, True])
def test_gradient_checkpointing_is_carried_over_without_the_deprecation_warning(value, recwarn):
    """TRL sets `gradient_checkpointing` by default; transformers 5 warns on it unless the new name is set."""
    args = load_recipe(RECIPE, [f"gradient_checkpointing={str(value).lower()}"]).training_config()
    assert (args.gradient_checkpointing, args.activation_checkpointing) == (value, value)
    assert not [w for w in recwarn if "gradient_checkpointing" in str(w.message)]
