"""``rlad demo --real``: the demo's settings for the shipped real pretrained pair (docs/real_models.md).

The student is SmolLM2-135M-Instruct at step 20 of its teacher's own LoRA run on ``sums``, the teacher
the end of that run; both ship with rlad (a GGUF package and 5 MB adapters). Both train and evaluate on
the ``d2`` subset (two two-digit operands: Mean@4 0.44 for the student, 1.00 for the teacher). The
student trains a LoRA adapter as in ``recipes/real_sums_lora.yaml``; on this CPU a step of 4 prompts x 4
rollouts takes about 20 s, so the demo is a short, single-seed run (no power: docs/real_models.md).

The learning rate, steps and evaluation interval are the real family's (``benchmarks/real.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlad.real.teacher import ADAPTERS

STUDENT = "smollm2-135m-sums-early"
TEACHER = "smollm2-135m-sums"
TASK = "sums"
TASK_OPTIONS = {"subsets": "d2"}  # two two-digit operands: where the student starts mid-band and RL moves it

# The real family's settings (benchmarks/real.py: OVERRIDES), so the demo is that comparison's first seed
# of GRPO and RLAD. No evaluations during training: one costs about as much as 10 steps here.
LEARNING_RATE = 5e-4
STEPS = 32
EVAL_EVERY = 0
MINUTES = 20  # `rlad demo --real` on 2 cores: 22 min measured 2026-11-30 (other work running)

PROMPTS_PER_STEP = 4
NUM_GENERATIONS = 4
MAX_NEW_TOKENS = 64
TEMPERATURE = 1.0
K = 4
EVAL_PROBLEMS = 64
WORKERS = 2  # grpo and rlad train at once, one single-threaded process each

LORA: dict[str, Any] = {
    "r": 8,
    "lora_alpha": 16,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}
# One generation batch (16 prompts x 4) feeds four optimizer steps; a constant rate for a short run;
# bfloat16 autocast on the CPU.
TRAINER_EXTRAS: dict[str, Any] = {
    "steps_per_generation": 4,
    "lr_scheduler_type": "constant",
    "bf16": True,
    "use_cpu": True,
}

# What `rlad diagnose` measured for this pair (the mechanism line under the demo's verdict).
MECHANISM_FILE: Path = ADAPTERS / STUDENT / "mechanism.json"

QUICK = {"steps": 2, "eval_every": 0, "eval_problems": 8, "k": 2}  # the same path at test size


def settings_fields() -> dict[str, Any]:
    """The :class:`rlad.demo.run.DemoSettings` fields of the real preset (all but ``out_dir``)."""
    return {
        "student": STUDENT,
        "teacher": TEACHER,
        "task": TASK,
        "task_options": dict(TASK_OPTIONS),
        "max_new_tokens": MAX_NEW_TOKENS,
        "prompts_per_step": PROMPTS_PER_STEP,
        "num_generations": NUM_GENERATIONS,
        "temperature": TEMPERATURE,
        "lora": {**LORA, "target_modules": list(LORA["target_modules"])},
        "ood_split": None,
        "steps": STEPS,
        "eval_every": EVAL_EVERY,
        "eval_problems": EVAL_PROBLEMS,
        "k": K,
        "learning_rate": LEARNING_RATE,
        "extra_config": dict(TRAINER_EXTRAS),
        "greedy": False,
        "workers": WORKERS,
        "mechanism_file": MECHANISM_FILE,
    }
