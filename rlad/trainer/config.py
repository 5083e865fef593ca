"""``RLADConfig``: TRL's ``GRPOConfig`` plus the teacher, the objective and the imitation gates.

Every GRPOConfig field keeps its meaning (rollouts, batch sizes, vLLM, logging, checkpoints). What
this adds is validated in ``__post_init__`` so a bad value fails at construction, before any model
is loaded, with one line per problem naming the value and what is allowed. An option that would be
accepted and then ignored (a TRRD hyper-parameter under ``loss=kdrl``, ``kd_beta_end`` under a
constant schedule, ...) is refused the same way.

The objective's hyper-parameters are declared by the losses themselves (:mod:`rlad.objectives.spec`):
their defaults and range checks come from there, and no loss is named here. Defaults are the RLAD
paper's: TRRD with alpha 0.5, clamp 1, clip 0.2 / 0.28, gates open, no teacher rollouts, no reference KL.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import torch
from trl import GRPOConfig

from rlad.objectives import LOSSES, HyperParam, LossSpec, coefficient_at
from rlad.objectives.losses import ALPHA, CLAMP, CLAMP_MODE, KD_BETA, KD_ESTIMATOR, KD_MASK_ABOVE_REWARD
from rlad.trainer import config_checks as checks
from rlad.trainer.config_checks import AGGREGATION_OF_LOSS_TYPE


def _help(text: str) -> dict:
    return {"help": text}


def _from(param: HyperParam) -> Any:
    """A config field whose default and help are the loss's own declaration."""
    return field(default=param.default, metadata=_help(param.help))


def accelerator_available() -> bool:
    """Whether torch has a device to train on besides the CPU: CUDA/ROCm, Intel XPU, Apple MPS, or one
    transformers itself counts as bf16-capable (XLA, HPU, NPU ...)."""
    from transformers.utils import is_torch_bf16_gpu_available, is_torch_xla_available

    xpu, mps = getattr(torch, "xpu", None), getattr(torch.backends, "mps", None)
    return (
        torch.cuda.is_available()
        or bool(xpu is not None and xpu.is_available())
        or bool(mps is not None and mps.is_available())
        or is_torch_bf16_gpu_available()
        or is_torch_xla_available()
    )


def bf16_needs_use_cpu(bf16: bool, use_cpu: bool, accelerator: bool) -> bool:
    """``bf16`` asked for with no accelerator: transformers then demands ``use_cpu`` ("Your setup doesn't
    support bf16/gpu"), and with it accelerate runs bf16 autocast on the CPU. Only bf16: transformers
    refuses no fp16 config this way. A machine with an accelerator is left alone."""
    return bf16 and not use_cpu and not accelerator


def resolve_checkpointing_alias(config: Any) -> None:
    """Carry ``gradient_checkpointing(_kwargs)`` over to ``activation_checkpointing(_kwargs)`` where
    transformers has the new names (5.x) and they are unset: TRL sets the old name by default, so
    transformers would warn "deprecated" on every run although the user set nothing. Same effect."""
    for old, new in (
        ("gradient_checkpointing", "activation_checkpointing"),
        ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs"),
    ):
        if hasattr(config, new) and getattr(config, new) is None and getattr(config, old, None) is not None:
            setattr(config, new, getattr(config, old))


@dataclass
class RLADConfig(GRPOConfig):
    # The teacher.
    teacher_model: str | None = field(
        default=None,
        metadata=_help(
            "Teacher: hub name or local path (a loaded model can be passed to RLADTrainer instead)."
        ),
    )
    teacher_dtype: str = field(
        default="auto", metadata=_help("Teacher weights dtype: auto, float32, bfloat16, float16.")
    )
    teacher_backend: str = field(
        default="local",
        metadata=_help(
            "Where the teacher runs: local (training device), offload (weights kept on "
            "teacher_offload_device), remote (a server at teacher_url: `rlad serve-teacher` or vLLM)."
        ),
    )
    teacher_offload_device: str = field(
        default="cpu", metadata=_help("offload: where the teacher's weights are kept between scoring calls.")
    )
    teacher_offload_move: bool = field(
        default=True,
        metadata=_help(
            "offload: copy the weights to the training device for each scoring call (True) "
            "or score where they are kept (False)."
        ),
    )
    teacher_url: str | None = field(
        default=None, metadata=_help("remote: the teacher server, e.g. http://127.0.0.1:8000.")
    )
    teacher_timeout_s: float = field(
        default=60.0, metadata=_help("remote: seconds each socket operation of a request may take.")
    )
    teacher_max_retries: int = field(
        default=8,
        metadata=_help("remote: retries (waits 1, 2, 4 .. 30 s) before TeacherUnavailableError."),
    )
    teacher_max_concurrency: int = field(
        default=4, metadata=_help("remote: scoring requests in flight at once.")
    )
    teacher_api_key: str | None = field(
        default=None,
        repr=False,
        metadata=_help(
            "remote: the key `rlad serve-teacher --api-key` expects (None: $RLAD_TEACHER_API_KEY, read "
            "when the client is built). Never saved: training_args.bin holds None in its place."
        ),
    )
    teacher_batch_size: int | None = field(
        default=None,
        metadata=_help("Sequences per teacher forward when scoring (None: the whole batch at once)."),
    )
    # The objective: the loss and its hyper-parameters (declared in rlad.objectives.losses).
    loss: str = field(
        default="trrd", metadata=_help(f"Objective, a registered loss: {', '.join(LOSSES.names())}.")
    )
    alpha: float = _from(ALPHA)
    teacher_log_ratio_clamp: float | None = _from(CLAMP)
    clamp_mode: str = _from(CLAMP_MODE)
    kd_beta: float = _from(KD_BETA)
    kd_estimator: str = _from(KD_ESTIMATOR)
    kd_mask_above_reward: float | None = _from(KD_MASK_ABOVE_REWARD)
    kd_beta_end: float | None = field(
        default=None, metadata=_help("KDRL coefficient at the last step for kd_schedule=linear (KDRL: 1e-3).")
    )
    kd_schedule: str = field(
        default="constant", metadata=_help("KDRL coefficient schedule: constant or linear.")
    )
    loss_params: dict[str, Any] | None = field(
        default=None,
        metadata=_help(
            "Hyper-parameters of a loss registered outside rlad (name -> value; those with no field here)."
        ),
    )
    loss_type: str = field(
        default="grpo",
        metadata=_help(
            "Token aggregation: grpo (seq-mean-token-mean, the paper's), bnpo (token mean), dr_grpo."
        ),
    )
    epsilon_high: float | None = field(default=0.28, metadata=_help("Upper clip epsilon (the paper: 0.28)."))
    advantage_std: str = field(
        default="sample",
        metadata=_help(
            "Std that scales group advantages: sample (TRL's, Bessel-corrected) or population (the paper's)."
        ),
    )
    # Explicit imitation gates (docs/method.md section 4); None = open.
    gate_align_tau: float | None = field(
        default=None,
        metadata=_help("Alignment gate: teacher anchor only if mean |old - teacher logp| <= tau."),
    )
    gate_adv_tau: float | None = field(
        default=None,
        metadata=_help("Advantage gate: teacher anchor only if |A| >= tau (A >= tau if positive only)."),
    )
    gate_adv_positive_only: bool = field(
        default=False, metadata=_help("Advantage gate opens only for positive advantages.")
    )
    gate_explore_rate: float | None = field(
        default=None,
        metadata=_help("Exploration gate: groups with success rate >= this are left to pure RL."),
    )
    success_threshold: float = field(
        default=1.0, metadata=_help("A completion whose total reward is >= this counts as a success.")
    )
    # Teacher rollouts (docs/method.md section 5).
    teacher_rollouts_per_prompt: int = field(
        default=0, metadata=_help("k: teacher completions generated per selected prompt (0 disables).")
    )
    teacher_rollouts_when: str = field(
        default="never", metadata=_help("Which prompts get teacher rollouts: never, all_failed, always.")
    )

    def __post_init__(self) -> None:
        if self.bf16 is None and not self.fp16 and not torch.cuda.is_available():
            self.bf16 = False  # TRL defaults to bf16, which transformers refuses on a CPU-only machine
        if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # Under torchrun on CPU, accelerate only sets up multi-process (gloo) training with use_cpu;
            # without it each rank believes it is alone and TRL's cross-rank gathers silently do nothing.
            self.use_cpu = True
        if bf16_needs_use_cpu(bool(self.bf16 or self.bf16_full_eval), self.use_cpu, accelerator_available()):
            # transformers refuses bf16 without a GPU unless use_cpu; with it, bf16 autocast runs on the CPU
            self.use_cpu = True
        resolve_checkpointing_alias(self)
        errors = checks.range_errors(self)  # before TRL's own checks, which divide by num_generations
        if errors:
            raise ValueError("invalid RLADConfig: " + "; ".join(errors))
        super().__post_init__()
        errors = (
            checks.objective_errors(self) + checks.rollout_errors(self) + checks.teacher_backend_errors(self)
        )
        unsupported = {
            "top_entropy_quantile": (self.top_entropy_quantile, 1.0),
            "off_policy_mask_threshold": (self.off_policy_mask_threshold, None),
            "importance_sampling_level": (self.importance_sampling_level, "token"),
            "delta": (self.delta, None),
            "entropy_coef": (self.entropy_coef, 0.0),
            "use_adaptive_entropy": (self.use_adaptive_entropy, False),
        }
        for name, (value, default) in unsupported.items():
            if value != default:
                errors.append(
                    f"{name}={value!r} is a TRL option rlad's losses do not implement (keep {default!r})"
                )
        if errors:
            raise ValueError("invalid RLADConfig: " + "; ".join(errors))

    # ------------------------------------------------------------------------------- secrets
    def to_dict(self) -> dict[str, Any]:
        """TRL's dict (what loggers and ``trainer_state`` see) with the teacher's API key masked."""
        data = super().to_dict()
        if data.get("teacher_api_key") is not None:
            data["teacher_api_key"] = "<TEACHER_API_KEY>"
        return data

    def __str__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in shown:
            if name.endswith("_token") or (name == "teacher_api_key" and shown[name] is not None):
                shown[name] = f"<{name.upper()}>"
        lines = "".join(f"{name}={value},\n" for name, value in sorted(shown.items()))
        return f"{type(self).__name__}(\n{lines})"

    __repr__ = __str__

    # ------------------------------------------------------------------------------- derived values
    @property
    def loss_spec(self) -> LossSpec:
        return LOSSES.get(self.loss)

    @property
    def needs_teacher(self) -> bool:
        return self.loss_spec.needs_teacher or self.teacher_rollouts_per_prompt > 0

    @property
    def aggregation(self) -> str:
        return AGGREGATION_OF_LOSS_TYPE[self.loss_type]

    @property
    def eps_low(self) -> float:
        return self.epsilon

    @property
    def eps_high(self) -> float:
        return self.epsilon_high if self.epsilon_high is not None else self.epsilon  # TRL's rule

    @property
    def norm_constant(self) -> int:
        return self.max_completion_length

    @property
    def any_gate(self) -> bool:
        return any(v is not None for v in (self.gate_align_tau, self.gate_adv_tau, self.gate_explore_rate))

    def loss_settings(self, step: int, total_steps: int) -> dict[str, Any]:
        """The value of each hyper-parameter the loss declares, at optimisation ``step`` of ``total_steps``."""
        settings = {}
        for param in self.loss_spec.params:
            if param.config_field is None:
                settings[param.name] = (self.loss_params or {}).get(param.name, param.default)
                continue
            value = getattr(self, param.config_field)
            if param.schedule:
                kind_field, end_field = param.schedule
                kind, end = getattr(self, kind_field), getattr(self, end_field)
                value = coefficient_at(step, max(total_steps, 1), value, end, kind)
            settings[param.name] = value
        return settings
