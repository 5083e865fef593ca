"""The one table of distillation methods a comparison can run, and how a method turns into a config.

Every preset (``rlad compare``, ``rlad demo``, the benchmark) reads this table, so "KDRL" means the same
run everywhere. KDRL's coefficient is annealed, as in the KDRL paper: 5e-3 at step 0, linearly to 1e-3 at
the last step, with the k2 estimator (the benchmark measured it this way; ``rlad compare`` ran it with a
constant 5e-3 before the presets were merged). RLAD runs the loss's defaults (alpha 0.5, clamp c = 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Method -> the config that selects it: "loss" always wins over a base config's loss; the other keys are
# the method's defaults, which a base config (a recipe) may set otherwise. "sft" trains with
# rlad.run.sft_distill (offline distillation, docs/method.md section 6) on the base config as is.
METHODS: dict[str, dict[str, Any]] = {
    "grpo": {"loss": "grpo"},
    "kdrl": {
        "loss": "kdrl",
        "kd_beta": 5e-3,
        "kd_beta_end": 1e-3,
        "kd_schedule": "linear",
        "kd_estimator": "k2",
    },
    "rlad": {"loss": "trrd"},
    "opd": {"loss": "opd"},
    "sft": {},
}
SFT = "sft"
REFERENCE = "reference"  # not a method: a run that only evaluates a given model (student before, teacher)
RL_METHODS = ("grpo", "kdrl", "rlad")


class CompareError(ValueError):
    """A comparison that cannot run as asked (unknown method, an output folder from another recipe)."""


def parse_methods(text: str) -> list[str]:
    """``"grpo, rlad,sft"`` -> ``["grpo", "rlad", "sft"]``; unknown names fail with the valid ones.

    >>> parse_methods("grpo, rlad,grpo")
    ['grpo', 'rlad']
    """
    methods = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    if not methods:
        raise CompareError(f"no methods given; valid: {', '.join(METHODS)}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise CompareError(f"unknown method(s) {', '.join(map(repr, unknown))}; valid: {', '.join(METHODS)}")
    return methods


def method_config(method: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` (a recipe's config) turned into ``method``: the method's defaults under ``base``, its loss over it.

    >>> method_config("kdrl", {"loss": "trrd", "kd_beta": 0.01})["kd_beta"], method_config("rlad", {"alpha": 0.3})
    (0.01, {'loss': 'trrd', 'alpha': 0.3})
    """
    if method not in METHODS:
        raise CompareError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    settings = METHODS[method]
    selector = {"loss": settings["loss"]} if "loss" in settings else {}
    return {**settings, **base, **selector}


def kd_overrides(beta: float) -> dict[str, Any]:
    """KDRL's overrides for a starting KD coefficient ``beta``, annealed to the same fraction of it as the
    default (``{}`` for the default itself, so that run is shared with the default's).

    >>> kd_overrides(2e-2), kd_overrides(5e-3)
    ({'kd_beta': 0.02, 'kd_beta_end': 0.004}, {})
    """
    kdrl = METHODS["kdrl"]
    if beta == kdrl["kd_beta"]:
        return {}
    return {"kd_beta": beta, "kd_beta_end": beta * kdrl["kd_beta_end"] / kdrl["kd_beta"]}
