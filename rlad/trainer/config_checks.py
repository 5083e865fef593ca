"""The checks behind ``RLADConfig.__post_init__``: each returns one line per problem, naming the value and
what is allowed. Hyper-parameters are checked from their declarations (:mod:`rlad.objectives.spec`):
a value outside its range is refused, and so is a value other than the default for a loss that does
not take it (accepted-then-ignored options are the bug this prevents).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from rlad.objectives import LOSSES, HyperParam, LossSpec
from rlad.objectives.advantages import STDS
from rlad.objectives.schedules import SCHEDULES
from rlad.teacher import BACKENDS

if TYPE_CHECKING:
    from rlad.trainer.config import RLADConfig

TEACHER_ROLLOUT_WHEN = ("never", "all_failed", "always")
# TRL's aggregation (`loss_type`) -> ours. The other TRL loss types change the surrogate itself.
AGGREGATION_OF_LOSS_TYPE = {
    "grpo": "seq_mean_token_mean",
    "bnpo": "token_mean",
    "dr_grpo": "seq_mean_token_sum_norm",
}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def range_errors(c: RLADConfig) -> list[str]:
    errors = []
    for f in dataclasses.fields(c):
        value = getattr(c, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            errors.append(f"{f.name}={value} must be a finite number")
    if _finite(c.learning_rate) and c.learning_rate <= 0:
        errors.append(f"learning_rate={c.learning_rate} must be > 0")
    if _finite(c.temperature) and c.temperature <= 0:
        errors.append(f"temperature={c.temperature} must be > 0")
    if c.num_generations is not None and c.num_generations < 1:
        errors.append(f"num_generations={c.num_generations} must be >= 1")
    if c.max_completion_length is not None and c.max_completion_length < 1:
        errors.append(f"max_completion_length={c.max_completion_length} must be >= 1")
    if c.max_steps == 0 or c.max_steps < -1:
        errors.append(f"max_steps={c.max_steps} must be >= 1, or -1 (train for num_train_epochs)")
    if c.teacher_batch_size is not None and c.teacher_batch_size < 1:
        errors.append(f"teacher_batch_size={c.teacher_batch_size} must be >= 1 or None")
    return errors


def objective_errors(c: RLADConfig) -> list[str]:
    if c.loss not in LOSSES:
        return [f"loss={c.loss!r} is not one of {', '.join(LOSSES.names())}"]
    spec = c.loss_spec
    errors = []
    if c.loss_type not in AGGREGATION_OF_LOSS_TYPE:
        errors.append(
            f"loss_type={c.loss_type!r} is not supported by rlad; use one of "
            f"{', '.join(AGGREGATION_OF_LOSS_TYPE)}"
        )
    fields = {f.name for f in dataclasses.fields(c)}
    for param, users in _params_with_fields(fields).items():
        value = getattr(c, param.config_field)
        problem = param.problem(value)
        if problem:
            errors.append(f"{param.config_field}={value!r} {problem}")
        elif value != param.default and c.loss not in users:
            errors.append(
                f"{param.config_field}={value!r} is not used by loss={c.loss!r} "
                f"(only by {', '.join(sorted(users))}; leave it at {param.default!r})"
            )
        if param.schedule:
            errors += schedule_errors(c, param, used=c.loss in users)
    errors += loss_params_errors(c, spec)
    gates = {"gate_align_tau": c.gate_align_tau, "gate_adv_tau": c.gate_adv_tau}
    for name, value in gates.items():
        if value is not None and not (_finite(value) and value >= 0):
            errors.append(f"{name}={value!r} must be a finite number >= 0 or None")
    if c.gate_explore_rate is not None and not 0.0 < c.gate_explore_rate <= 1.0:
        errors.append(f"gate_explore_rate={c.gate_explore_rate} must be in (0, 1]")
    if c.any_gate and spec.gated is None:
        gated = [name for name in LOSSES if LOSSES.get(name).gated]
        errors.append(
            f"gate_* options gate the teacher anchor of {', '.join(gated)}; loss={c.loss!r} has none"
        )
    if c.gate_adv_positive_only and c.gate_adv_tau is None:
        errors.append("gate_adv_positive_only=True is only used with gate_adv_tau set")
    group_success_used = (
        c.gate_explore_rate is not None or c.teacher_rollouts_per_prompt > 0 or "group_success" in spec.inputs
    )
    if c.success_threshold != 1.0 and not group_success_used:
        errors.append(
            f"success_threshold={c.success_threshold} is only used by gate_explore_rate "
            "and teacher rollouts (neither is on)"
        )
    if c.advantage_std not in STDS:
        errors.append(f"advantage_std={c.advantage_std!r} is not one of {', '.join(STDS)}")
    elif c.advantage_std != "sample":
        if c.scale_rewards == "none":
            errors.append("advantage_std='population' needs scale_rewards 'group' or 'batch' (none: no std)")
        if c.multi_objective_aggregation != "sum_then_normalize":
            errors.append("advantage_std='population' needs multi_objective_aggregation='sum_then_normalize'")
    return errors


def schedule_errors(c: RLADConfig, param: HyperParam, used: bool) -> list[str]:
    kind_field, end_field = param.schedule
    kind, end = getattr(c, kind_field), getattr(c, end_field)
    if kind not in SCHEDULES:
        return [f"{kind_field}={kind!r} is not one of {', '.join(SCHEDULES)}"]
    if end is not None and not (_finite(end) and end >= 0):
        return [f"{end_field}={end!r} must be a finite number >= 0 or None"]
    if not used and (kind != "constant" or end is not None):
        return [f"{kind_field} / {end_field} anneal {param.name}, which loss={c.loss!r} does not use"]
    if kind == "constant" and end is not None:
        return [f"{end_field}={end} is only used with {kind_field}='linear' (not {kind!r})"]
    if kind != "constant" and end is None:
        return [f"{kind_field}={kind!r} needs {end_field}"]
    return []


def loss_params_errors(c: RLADConfig, spec: LossSpec) -> list[str]:
    if c.loss_params is None:
        return []
    if not isinstance(c.loss_params, dict):
        return [f"loss_params={c.loss_params!r} must be a mapping of hyper-parameter name -> value"]
    free = {p.name: p for p in spec.params if p.config_field is None}
    errors = []
    for name, value in c.loss_params.items():
        if name not in free:
            valid = ", ".join(free) or "none"
            errors.append(f"loss_params key {name!r} is not a free hyper-parameter of {spec.name!r}: {valid}")
        elif problem := free[name].problem(value):
            errors.append(f"loss_params {name}={value!r} {problem}")
    return errors


def rollout_errors(c: RLADConfig) -> list[str]:
    errors = []
    k, when = c.teacher_rollouts_per_prompt, c.teacher_rollouts_when
    if when not in TEACHER_ROLLOUT_WHEN:
        errors.append(f"teacher_rollouts_when={when!r} is not one of {', '.join(TEACHER_ROLLOUT_WHEN)}")
    if k < 0:
        errors.append(f"teacher_rollouts_per_prompt={k} must be >= 0")
    if k > 0 and when == "never":
        errors.append(f"teacher_rollouts_per_prompt={k} needs teacher_rollouts_when 'all_failed' or 'always'")
    if k == 0 and when not in ("never",) and when in TEACHER_ROLLOUT_WHEN:
        errors.append(f"teacher_rollouts_when={when!r} needs teacher_rollouts_per_prompt >= 1")
    if k > 0 and k >= c.num_generations:
        errors.append(
            f"teacher_rollouts_per_prompt={k} must be smaller than num_generations={c.num_generations} "
            "so each group keeps at least one student completion"
        )
    if k > 0 and c.scale_rewards == "batch":
        errors.append("teacher rollouts recompute advantages per group: use scale_rewards 'group' or 'none'")
    return errors


def teacher_backend_errors(c: RLADConfig) -> list[str]:
    errors = []
    if c.teacher_backend not in BACKENDS:
        errors.append(f"teacher_backend={c.teacher_backend!r} is not one of {', '.join(BACKENDS.names())}")
    if c.teacher_backend == "remote" and not c.teacher_url:
        errors.append("teacher_backend='remote' needs teacher_url")
    if c.teacher_url and c.teacher_backend != "remote":
        errors.append(f"teacher_url is only used with teacher_backend='remote' (not {c.teacher_backend!r})")
    if c.teacher_backend == "remote" and c.teacher_rollouts_per_prompt > 0:
        errors.append(
            "teacher rollouts generate with the teacher's weights: use teacher_backend local or offload"
        )
    if c.teacher_timeout_s <= 0:
        errors.append(f"teacher_timeout_s={c.teacher_timeout_s} must be positive")
    if c.teacher_max_retries < 0:
        errors.append(f"teacher_max_retries={c.teacher_max_retries} must be >= 0")
    if c.teacher_max_concurrency < 1:
        errors.append(f"teacher_max_concurrency={c.teacher_max_concurrency} must be >= 1")
    return errors


def _params_with_fields(fields: set[str]) -> dict[HyperParam, set[str]]:
    """Every registered hyper-parameter set by a config field, with the losses that use it."""
    users: dict[HyperParam, set[str]] = {}
    for name in LOSSES:
        for param in LOSSES.get(name).params:
            if param.config_field in fields:
                users.setdefault(param, set()).add(name)
    return users
