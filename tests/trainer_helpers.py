"""Small shared pieces for the trainer tests: a toy dataset and reward."""

from datasets import Dataset


def addition_dataset(n: int = 64) -> Dataset:
    rows = [{"prompt": f"{a}+{b}=", "answer": str(a + b)} for a in range(10) for b in range(10)]
    return Dataset.from_list(rows[:n])


def contains_answer(prompts, completions, answer, **kwargs):
    """1.0 when the completion contains the right sum anywhere (easy to hit by chance: mixed groups)."""
    return [1.0 if ans in completion else 0.0 for completion, ans in zip(completions, answer)]


def digit_fraction(prompts, completions, **kwargs):
    """Share of digits in the completion: dense and almost never constant within a group."""
    return [sum(ch.isdigit() for ch in c) / max(len(c), 1) for c in completions]


COMMON = {
    "max_steps": 3,
    "per_device_train_batch_size": 8,
    "num_generations": 4,
    "max_completion_length": 6,
    "learning_rate": 5e-3,
    "logging_steps": 1,
    "report_to": "none",
    "save_strategy": "no",
    "gradient_checkpointing": False,
    "bf16": False,
    "seed": 7,
    "loss_type": "grpo",
    "epsilon": 0.2,
    "epsilon_high": 0.28,
    "disable_tqdm": True,
}
