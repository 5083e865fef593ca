"""Loss registrations describe themselves: declared inputs, hyper-parameters and metrics match the maths."""

import inspect

import pytest
import torch

from rlad.objectives import LOSSES, HyperParam, register_loss
from rlad.objectives.spec import BATCH_INPUTS, positive_or_none


def _batch(seed=0, B=4, T=5):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(B, T, generator=g) * 3
    return {
        "logp": logp.requires_grad_(True),
        "old_logp": logp.detach() + 0.1,
        "teacher_logp": logp.detach() - 2.0 * torch.rand(B, T, generator=g),
        "ref_logp": logp.detach() - 0.5,
        "advantages": torch.tensor([1.0, -1.0, 0.5, 0.0]),
        "mask": torch.ones(B, T),
        "rewards": torch.tensor([1.0, 0.0, 1.0, 0.0]),
        "group_success": torch.full((B,), 0.5),
        "token_weights": None,
    }


@pytest.mark.parametrize("name", ["grpo", "trrd", "kdrl", "opd"])
def test_declared_arguments_are_exactly_keyword_parameters_of_the_function(name):
    spec = LOSSES.get(name)
    parameters = inspect.signature(spec.fn).parameters
    declared = set(spec.inputs) | {p.name for p in spec.params}
    assert declared <= set(parameters)
    # Every hyper-parameter's Python default is its declared one: there is one place for defaults.
    for param in spec.params:
        assert parameters[param.name].default == param.default, param.name
    # Anything the function takes but the spec does not declare keeps its default (not reachable from a config).
    assert all(parameters[k].default is not inspect.Parameter.empty for k in set(parameters) - declared)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("grpo", {"beta": 0.1}),
        ("trrd", {}),
        ("kdrl", {"kd_mask_above_reward": 0.5}),
        ("opd", {}),
    ],
)
def test_logged_metrics_are_the_declared_ones(name, options):
    spec = LOSSES.get(name)
    settings = {p.name: options.get(p.name, p.default) for p in spec.params}
    loss, metrics = spec(**spec.arguments(_batch(), settings))
    assert torch.isfinite(loss)
    assert set(metrics) == set(spec.metrics)


def test_arguments_pass_none_explicitly_and_only_declared_names():
    spec = LOSSES.get("trrd")
    settings = {p.name: p.default for p in spec.params} | {"clamp": None}
    call = spec.arguments(_batch(), settings)
    assert call["clamp"] is None and call["token_weights"] is None
    assert "ref_logp" not in call and "rewards" not in call
    assert LOSSES.get("trrd").needs_teacher and not LOSSES.get("grpo").needs_teacher
    assert LOSSES.get("trrd").gated == "alpha" and LOSSES.get("kdrl").gated is None


def test_registration_refuses_unknown_inputs_gates_and_duplicates():
    with pytest.raises(ValueError, match=r"asks for unknown inputs \['logits'\]; valid: logp, old_logp"):
        register_loss("bad_inputs", inputs=("logits",))
    with pytest.raises(ValueError, match="gated='w' is not one of its hyper-parameters"):
        register_loss("bad_gate", inputs=("logp",), gated="w")
    with pytest.raises(ValueError, match="loss 'trrd' is already registered"):
        register_loss("trrd", inputs=("logp",))(lambda **kw: None)
    assert "bad_inputs" not in LOSSES and "bad_gate" not in LOSSES
    assert set(BATCH_INPUTS) >= {i for n in LOSSES for i in LOSSES.get(n).inputs}


def test_hyperparameter_checks_name_what_is_allowed():
    clamp = HyperParam("clamp", 1.0, "bound", None, positive_or_none)
    assert clamp.problem(None) is None and clamp.problem(0.5) is None
    assert clamp.problem(0.0) == "must be a positive number or None"
    assert clamp.problem(float("inf")) == "must be a positive number or None"
    assert LOSSES.get("trrd").param("alpha").problem(float("nan")) == "must be in [0, 1]"
    assert LOSSES.get("kdrl").param("kd_estimator").problem("k9") == "is not one of k1, k2, k3"
