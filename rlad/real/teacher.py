"""A task teacher that shares the student's pretraining: the same base, LoRA-tuned on worked solutions.

TRRD compares pi_S and pi_T token by token; it only helps when the teacher puts high probability on
the student's own good tokens. A teacher fine-tuned from the student's own base on verified,
programmatically generated worked solutions (:func:`rlad.tasks.sums.worked_solution`) keeps the
student's tokenizer, style and pretraining, and adds the skill.

Build (once; the adapter is a few MB and ships in ``rlad/real/adapters/<name>/``)::

    rlad build-teacher smollm2-135m-sums            # or: python -m rlad.real.teacher smollm2-135m-sums

Use: the name is a model spec anywhere rlad takes one (``teacher_model: smollm2-135m-sums``). It
resolves to a cached merged folder ``<cache>/models/<name>-<adapter sha[:12]>`` (base + adapter, the
LoRA folded into the weights), so every loader sees a plain ``from_pretrained`` model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rlad.real.gguf import RealModelError, cache_root, resolve_real_model

ADAPTERS = Path(__file__).parent / "adapters"


@dataclass(frozen=True)
class TeacherRecipe:
    """How a packaged teacher is built: base model, task, LoRA shape and training budget."""

    base: str
    task: str
    task_options: dict = field(default_factory=dict)
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )
    learning_rate: float = 1e-3  # 10 warm-up steps, then linear decay to 0 at max_steps
    batch_size: int = 32
    max_steps: int = 400
    stop_at: int | None = None  # keep the adapter of this step of the same run (an early checkpoint)
    seed: int = 0


TEACHERS: dict[str, TeacherRecipe] = {
    # The teacher: the whole run (Mean@4 0.99 on the test split; the base model scores 0.00).
    "smollm2-135m-sums": TeacherRecipe(base="smollm2-135m", task="sums"),
    # A student on the teacher's own trajectory: step 20 of the same run (Mean@4 0.16).
    "smollm2-135m-sums-early": TeacherRecipe(base="smollm2-135m", task="sums", stop_at=20),
}


def adapter_dir(name: str) -> Path:
    return ADAPTERS / name


def resolve_teacher(name: str) -> str:
    """The cached merged folder of a packaged teacher, merging base + adapter on first use."""
    adapter = adapter_dir(name)
    if not (adapter / "adapter_config.json").is_file():
        raise RealModelError(f"teacher {name!r} is not built yet: run `rlad build-teacher {name}`")
    digest = hashlib.sha256((adapter / "adapter_model.safetensors").read_bytes()).hexdigest()[:12]
    target = cache_root() / "models" / f"{name}-{digest}"
    if (target / "config.json").is_file():
        return str(target)
    merge_adapter(resolve_real_model(TEACHERS[name].base), adapter, target)
    return str(target)


def merge_adapter(base: str, adapter: Path, target: Path) -> None:
    """Fold a LoRA adapter into its base and save a plain folder at ``target`` (atomic rename)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model = AutoModelForCausalLM.from_pretrained(base)
        merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        merged.save_pretrained(str(tmp))
        AutoTokenizer.from_pretrained(base).save_pretrained(str(tmp))
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def recipe_json(recipe: TeacherRecipe) -> str:
    return json.dumps(asdict(recipe), indent=1)


# ------------------------------------------------------------------------------------------- building
def sft_batches(tokenizer, rows: list[dict], batch_size: int, seed: int):
    """Endless (input_ids, attention_mask, labels) batches; labels are -100 outside the completion.

    Each row is the chat-templated prompt followed by the reference solution and the end-of-turn
    token, so the teacher learns to stop where the student's rollouts are cut.
    """
    import random

    import torch

    order = random.Random(seed)
    encoded = []
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(row["reference"], add_special_tokens=False)["input_ids"]
        encoded.append((prompt_ids, answer_ids + [tokenizer.eos_token_id]))
    while True:
        order.shuffle(encoded)
        for start in range(0, len(encoded) - batch_size + 1, batch_size):
            chunk = encoded[start : start + batch_size]
            width = max(len(p) + len(a) for p, a in chunk)
            ids = torch.full((batch_size, width), tokenizer.pad_token_id)  # (B, T), right padded
            mask = torch.zeros((batch_size, width), dtype=torch.long)  # (B, T)
            labels = torch.full((batch_size, width), -100)  # (B, T)
            for i, (p, a) in enumerate(chunk):
                n = len(p) + len(a)
                ids[i, :n] = torch.tensor(p + a)
                mask[i, :n] = 1
                labels[i, len(p) : n] = torch.tensor(a)
            yield ids, mask, labels


def train_lora(recipe: TeacherRecipe, base_path: str, log=print):
    """LoRA-tune ``base_path`` on the task's worked solutions (train split); returns the peft model."""
    import time

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlad.tasks import get_task

    torch.manual_seed(recipe.seed)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    config = LoraConfig(
        r=recipe.lora_r,
        lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout,
        target_modules=list(recipe.target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, config)
    rows = list(get_task(recipe.task, **recipe.task_options).load(split="train", seed=recipe.seed))
    batches = sft_batches(tokenizer, rows, recipe.batch_size, recipe.seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / 10) * max(0.0, 1 - step / recipe.max_steps)
    )
    model.train()
    start = time.monotonic()
    for step in range(recipe.stop_at or recipe.max_steps):
        ids, mask, labels = next(batches)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 10 == 0 or step == recipe.max_steps - 1:
            log(
                f"step {step + 1}/{recipe.max_steps} loss {loss.item():.4f} ({time.monotonic() - start:.0f} s)"
            )
    return model.eval(), tokenizer


def save_adapter(model, out: Path, dtype: str = "bfloat16") -> None:
    """Save only the LoRA weights, cast to ``dtype`` to halve the file (the merge casts back)."""
    import torch
    from safetensors.torch import load_file, save_file

    model.save_pretrained(str(out))
    weights = out / "adapter_model.safetensors"
    tensors = {k: v.to(getattr(torch, dtype)) for k, v in load_file(str(weights)).items()}
    save_file(tensors, str(weights), metadata={"format": "pt"})


def measure(model, tokenizer, task_name: str, task_options: dict, problems: int, k: int = 4, seed: int = 0):
    """Mean@k and Pass@k at temperature 1 on ``problems`` test problems (the numbers in build.json)."""
    from rlad.eval.evaluate import evaluate_model
    from rlad.eval.settings import EvalSettings
    from rlad.tasks import get_task

    task = get_task(task_name, **task_options)
    data = task.load(split="test", limit=problems, seed=seed)
    settings = EvalSettings(
        k=k, max_new_tokens=64, temperature=1.0, top_p=1.0, seed=seed, batch_size=32, greedy=False
    )
    return evaluate_model(model, tokenizer, task, data, settings)


def build_teacher(
    name: str, max_steps: int | None = None, eval_problems: int = 100, out: Path | None = None, log=print
) -> dict:
    """Train the named teacher's adapter, measure it, save adapter + ``build.json``; returns the record."""
    import dataclasses
    import time

    if name not in TEACHERS:
        raise RealModelError(f"unknown teacher {name!r}; valid: {', '.join(TEACHERS)}")
    recipe = TEACHERS[name]
    if max_steps is not None:
        recipe = dataclasses.replace(recipe, max_steps=max_steps)
    base = resolve_real_model(recipe.base)
    start = time.monotonic()
    model, tokenizer = train_lora(recipe, base, log=log)
    train_s = time.monotonic() - start
    out = out or adapter_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    save_adapter(model, out)
    record = {"name": name, "recipe": asdict(recipe), "train_seconds": round(train_s, 1)}
    if eval_problems > 0:
        report = measure(model, tokenizer, recipe.task, recipe.task_options, eval_problems)
        record["eval"] = _eval_record(report, eval_problems)
        log(f"{name}: {json.dumps(record['eval'])}")
    size = (out / "adapter_model.safetensors").stat().st_size
    record["adapter_bytes"] = size
    (out / "build.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def _eval_record(report, problems: int) -> dict:
    overall = report.overall
    return {
        "problems": problems,
        "k": 4,
        "temperature": 1.0,
        "split": "test",
        "mean_at_k": round(overall.mean_at_k, 4),
        "pass_at_k": round(overall.pass_at_k, 4),
        "subsets": {name: round(s.mean_at_k, 4) for name, s in report.subsets.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m rlad.real.teacher NAME [--max-steps N] [--eval-problems P]``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m rlad.real.teacher", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(TEACHERS))
    parser.add_argument("--max-steps", type=int, default=None, help="training steps (default: the recipe's)")
    parser.add_argument("--eval-problems", type=int, default=100, help="test problems for Mean@4 (0: skip)")
    parser.add_argument("--out", type=Path, default=None, help="adapter folder (default: the packaged one)")
    args = parser.parse_args(argv)
    try:
        build_teacher(args.name, args.max_steps, args.eval_problems, args.out)
    except RealModelError as err:
        print(f"build-teacher: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
