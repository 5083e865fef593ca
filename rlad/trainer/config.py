"""``RLADConfig``: TRL's ``GRPOConfig`` plus the teacher, the objective and the imitation gates.

Every GRPOConfig field keeps its meaning (rollouts, batch sizes, vLLM, logging, checkpoints). What
this adds is validated in ``__post_init__`` so a bad value fails at construction, before any model
is loaded. Defaults are the RLAD paper's: TRRD with alpha 0.5, clamp 1, clip 0.2 / 0.28, gates
open, no teacher rollouts, no reference KL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from trl import GRPOConfig

from rlad.objectives import ESTIMATORS, LOSSES
from rlad.objectives.schedules import SCHEDULES
from rlad.teacher import BACKENDS

# TRL's aggregation (`loss_type`) -> ours. The other TRL loss types change the surrogate itself.
AGGREGATION_OF_LOSS_TYPE = {
    "grpo": "seq_mean_token_mean",
    "bnpo": "token_mean",
    "dr_grpo": "seq_mean_token_sum_norm",
}
TEACHER_ROLLOUT_WHEN = ("never", "all_failed", "always")
LOSSES_NEEDING_TEACHER = ("trrd", "kdrl", "opd")


def _help(text: str) -> dict:
    return {"help": text}


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
    teacher_batch_size: int | None = field(
        default=None,
        metadata=_help("Sequences per teacher forward when scoring (None: the whole batch at once)."),
    )
    # The objective.
    loss: str = field(default="trrd", metadata=_help("Objective: trrd (RLAD), kdrl, grpo or opd."))
    alpha: float = field(
        default=0.5,
        metadata=_help(
            "TRRD weight of the old student in the trust-region anchor; 1 is exactly GRPO (not 0)."
        ),
    )
    teacher_log_ratio_clamp: float | None = field(
        default=1.0, metadata=_help("TRRD bound c on |log(pi_S / pi_T)|; None disables the clamp.")
    )
    loss_type: str = field(
        default="grpo",
        metadata=_help(
            "Token aggregation: grpo (seq-mean-token-mean, the paper's), bnpo (token mean), dr_grpo."
        ),
    )
    epsilon_high: float | None = field(default=0.28, metadata=_help("Upper clip epsilon (the paper: 0.28)."))
    # KDRL / OPD.
    kd_beta: float = field(
        default=5e-3, metadata=_help("KDRL coefficient of KL(student || teacher) (at step 0).")
    )
    kd_beta_end: float | None = field(
        default=None, metadata=_help("KDRL coefficient at the last step for kd_schedule=linear (KDRL: 1e-3).")
    )
    kd_schedule: str = field(
        default="constant", metadata=_help("KDRL coefficient schedule: constant or linear.")
    )
    kd_estimator: str = field(
        default="k2", metadata=_help("Per-token KL estimator for kdrl / opd: k1, k2, k3.")
    )
    kd_mask_above_reward: float | None = field(
        default=None,
        metadata=_help("KDRL reward-guided mask: no KD term on sequences with reward above this."),
    )
    # Explicit imitation gates (spec section 4); None = open.
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
    # Teacher rollouts (spec section 5).
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
        super().__post_init__()
        errors = []
        if self.loss not in LOSSES:
            errors.append(f"loss={self.loss!r} is not one of {', '.join(LOSSES.names())}")
        if not 0.0 <= self.alpha <= 1.0:
            errors.append(f"alpha={self.alpha} must be in [0, 1] (1 is GRPO)")
        if self.teacher_log_ratio_clamp is not None and self.teacher_log_ratio_clamp <= 0:
            errors.append(f"teacher_log_ratio_clamp={self.teacher_log_ratio_clamp} must be positive or None")
        if self.loss_type not in AGGREGATION_OF_LOSS_TYPE:
            errors.append(
                f"loss_type={self.loss_type!r} is not supported by rlad; use one of "
                f"{', '.join(AGGREGATION_OF_LOSS_TYPE)}"
            )
        if self.kd_estimator not in ESTIMATORS:
            errors.append(f"kd_estimator={self.kd_estimator!r} is not one of {', '.join(ESTIMATORS)}")
        if self.kd_schedule not in SCHEDULES:
            errors.append(f"kd_schedule={self.kd_schedule!r} is not one of {', '.join(SCHEDULES)}")
        if self.kd_schedule == "linear" and self.kd_beta_end is None:
            errors.append("kd_schedule='linear' needs kd_beta_end")
        if self.kd_beta < 0:
            errors.append(f"kd_beta={self.kd_beta} must be >= 0")
        if self.teacher_rollouts_when not in TEACHER_ROLLOUT_WHEN:
            errors.append(
                f"teacher_rollouts_when={self.teacher_rollouts_when!r} is not one of {', '.join(TEACHER_ROLLOUT_WHEN)}"
            )
        if self.teacher_rollouts_per_prompt < 0:
            errors.append(f"teacher_rollouts_per_prompt={self.teacher_rollouts_per_prompt} must be >= 0")
        if self.gate_explore_rate is not None and not 0.0 < self.gate_explore_rate <= 1.0:
            errors.append(f"gate_explore_rate={self.gate_explore_rate} must be in (0, 1]")
        if self.beta != 0.0 and self.loss != "grpo":
            errors.append(f"beta={self.beta} (reference KL) is only supported with loss='grpo'")
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
        errors += self._teacher_backend_errors()
        if errors:
            raise ValueError("invalid RLADConfig: " + "; ".join(errors))

    def _teacher_backend_errors(self) -> list[str]:
        errors = []
        if self.teacher_backend not in BACKENDS:
            errors.append(
                f"teacher_backend={self.teacher_backend!r} is not one of {', '.join(BACKENDS.names())}"
            )
        if self.teacher_backend == "remote" and not self.teacher_url:
            errors.append("teacher_backend='remote' needs teacher_url")
        if self.teacher_url and self.teacher_backend != "remote":
            errors.append(
                f"teacher_url is only used with teacher_backend='remote' (not {self.teacher_backend!r})"
            )
        if self.teacher_backend == "remote" and self.teacher_rollouts_per_prompt > 0:
            errors.append(
                "teacher rollouts generate with the teacher's weights: use teacher_backend local or offload"
            )
        if self.teacher_timeout_s <= 0:
            errors.append(f"teacher_timeout_s={self.teacher_timeout_s} must be positive")
        if self.teacher_max_retries < 0:
            errors.append(f"teacher_max_retries={self.teacher_max_retries} must be >= 0")
        if self.teacher_max_concurrency < 1:
            errors.append(f"teacher_max_concurrency={self.teacher_max_concurrency} must be >= 1")
        return errors

    @property
    def needs_teacher(self) -> bool:
        return self.loss in LOSSES_NEEDING_TEACHER or self.teacher_rollouts_per_prompt > 0

    @property
    def aggregation(self) -> str:
        return AGGREGATION_OF_LOSS_TYPE[self.loss_type]

    @property
    def any_gate(self) -> bool:
        return any(v is not None for v in (self.gate_align_tau, self.gate_adv_tau, self.gate_explore_rate))
