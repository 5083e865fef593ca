"""Can a tiny character-level Llama learn ``code_synthetic`` well enough to be the code family's teacher?

The code family of the benchmark needs a pair like the other families: a teacher worth distilling (target
Mean@8 >= 0.85 on the test split, temperature 0.6, top-p 0.95) and a weaker student whose RL groups have
mixed rewards (Mean@8 between 0.2 and 0.5). The task shows a hidden integer function through four examples
and asks for it in Python, scored by running asserts in the sandbox::

    prompt      f(0)=-5;f(8)=3;f(1)=-4;f(3)=-2?
    completion  def f(x):return x-5

One model is trained with :func:`rlad.toy.sft.train_on_pairs` on the *train* split's ``reference``
completions, under a wall-clock limit, and probed on the test split (whose functions never occur in
training) every ``teacher_seconds / probes`` seconds of training. As in the toy zoo, the student is not
a second model but the run's first probed checkpoint with Mean@k in the student range::

    python -m benchmarks.code --out benchmarks/runs/code_models --teacher-seconds 600

``build.json`` records the shape, parameters, steps, seconds, every probe (step, seconds, Mean@k, per
subset), the final Mean@k on the whole test split, completion lengths and the sandbox's scoring
throughput (completions per second, which bounds RL on this task); ``pair.json`` says whether the pair is
usable. Measured on the 2-core CPU (one thread, 600 s, 2418 steps): test Mean@8 0.072 (ops1 0.10, ops2
0.04), no probe in the student range, so not usable; on fresh problems of *training* functions the same
model reaches 0.64: it learns the functions it has seen, not how to infer an unseen one.

Probes score each distinct completion once and skip the sandbox for programs that do not parse
(``compile`` only parses; such a program fails to load in the sandbox too), which gives the same Mean@k.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path
from typing import Any

# One and two operators over +-*: linear functions and simple quadratics/cubics. Three operators
# (the task default also has them) need a degree-4 polynomial inferred from four points.
TASK_OPTIONS: dict[str, Any] = {"style": "compact", "n_ops": (1, 2)}
TRAIN_PROBLEMS = 20000  # drawn from at random each step; the test split's functions are never among them
# The toy zoo's arithmetic recipe (learnt 2-3 operand arithmetic in ~2800 steps on this CPU). A first
# 150 s try with 4 layers and batch 128 managed only 1.5 steps/s and Mean@8 0.003 (the format, no values).
SHAPE: dict[str, int] = {"hidden_size": 128, "num_layers": 3, "num_heads": 4}
BATCH_SIZE, LR = 64, 3e-3
SEED = 0
TEACHER_TARGET = 0.85
STUDENT_RANGE = (0.2, 0.5)
MAX_NEW_TOKENS = 32  # references with one or two operators have at most 23 characters


def code_task():
    from rlad.tasks import get_task

    return get_task("code_synthetic", **TASK_OPTIONS)


def mean_at_k(
    model: Any, tokenizer: Any, task: Any, rows: list[dict], k: int, seed: int = 0
) -> dict[str, Any]:
    """Mean@k (temperature 0.6, top-p 0.95) of ``model`` on ``rows``, overall and per subset."""
    from rlad.eval import HFBackend

    backend = HFBackend(model, tokenizer, batch_size=256, show_progress=False)
    texts = backend.generate(
        [r["prompt"] for r in rows],
        n=k,
        max_new_tokens=MAX_NEW_TOKENS,
        temperature=0.6,
        top_p=0.95,
        seed=seed,
    )  # (P, k)
    t0 = time.perf_counter()
    unique = sorted({(i, t) for i, group in enumerate(texts) for t in group})
    runnable = [(i, t) for i, t in unique if _parses(task.program_of(t, rows[i]))]
    scores = task.score_batch([t for _, t in runnable], [rows[i] for i, _ in runnable])
    correct = {key: s.correct for key, s in zip(runnable, scores)}  # unparsable: absent, so wrong
    hits = [[correct.get((i, t), False) for t in group] for i, group in enumerate(texts)]  # (P, k)
    by_subset: dict[str, list[float]] = {}
    for row, group in zip(rows, hits):
        by_subset.setdefault(row["subset"], []).append(sum(group) / k)
    return {
        "mean": round(sum(map(sum, hits)) / (k * max(1, len(rows))), 4),
        "per_subset": {name: round(statistics.mean(v), 4) for name, v in sorted(by_subset.items())},
        "sandbox_runs": len(runnable),
        "scoring_seconds": round(time.perf_counter() - t0, 2),
    }


def _parses(program: str) -> bool:
    try:
        compile(program, "<solution>", "exec")  # parses only; nothing runs
    except (SyntaxError, ValueError):
        return False
    return True


def scoring_throughput(task: Any, rows: list[dict], n: int = 64) -> float:
    """Completions scored per second by the sandbox (one child process each), on correct references."""
    batch = [rows[i % len(rows)] for i in range(n)]
    t0 = time.perf_counter()
    task.score_batch([r["reference"] for r in batch], batch)
    return round(n / (time.perf_counter() - t0), 1)


def lengths(texts: list[str]) -> dict[str, float]:
    sizes = [len(t) for t in texts]
    return {"min": min(sizes), "mean": round(statistics.mean(sizes), 1), "max": max(sizes)}


def build(
    out_dir: Path,
    seconds: float,
    *,
    probes: int = 10,
    probe_problems: int = 100,
    test_problems: int | None = None,
    k: int = 8,
    train_problems: int = TRAIN_PROBLEMS,
) -> dict[str, Any]:
    """Train the teacher for ``seconds`` of training time; probe, keep the student checkpoint, save both.

    Probes use the first ``probe_problems`` test problems (balanced over subsets); the final Mean@k uses
    ``test_problems`` (default: the whole test split).
    """
    from rlad.toy.models import build_tiny_llama, count_parameters, save_model
    from rlad.toy.sft import train_on_pairs
    from rlad.toy.tokenizer import build_char_tokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_char_tokenizer()
    task = code_task()
    t0 = time.perf_counter()
    train = task.load(split="train", limit=train_problems)
    data_seconds = time.perf_counter() - t0
    pairs = list(zip(train["prompt"], train["reference"]))
    test_rows = [dict(r) for r in task.load(split="test", limit=test_problems)]
    probe_rows = [dict(r) for r in task.load(split="test", limit=min(probe_problems, len(test_rows)))]
    throughput = scoring_throughput(task, test_rows)
    model = build_tiny_llama(tokenizer, seed=SEED, **SHAPE)

    history: list[dict[str, Any]] = []
    student: dict[str, Any] = {}  # the first probed checkpoint in STUDENT_RANGE
    clock = {"start": time.perf_counter(), "probing": 0.0, "next": seconds / probes}

    def train_seconds() -> float:
        return time.perf_counter() - clock["start"] - clock["probing"]

    def probe(step: int) -> None:
        if train_seconds() < clock["next"]:
            return
        begin = time.perf_counter()
        result = {
            "step": step,
            "seconds": round(train_seconds(), 1),
            **mean_at_k(model, tokenizer, task, probe_rows, k),
        }
        history.append(result)
        if not student and STUDENT_RANGE[0] <= result["mean"] <= STUDENT_RANGE[1]:
            student.update(step=step, seconds=result["seconds"], state=copy.deepcopy(model.state_dict()))
        print(
            f"code: step {step} {result['seconds']:.0f}s Mean@{k} {result['mean']:.3f} {result['per_subset']}",
            flush=True,
        )
        clock["next"] += seconds / probes
        clock["probing"] += time.perf_counter() - begin

    stats = train_on_pairs(
        model,
        tokenizer,
        lambda n, rng: [rng.choice(pairs) for _ in range(n)],
        steps=1_000_000,  # the time limit stops it
        time_limit_s=seconds,
        batch_size=BATCH_SIZE,
        lr=LR,
        seed=SEED,
        progress=False,
        description="code teacher",
        callback=probe,
        callback_every=10,
    )
    teacher = {
        "steps": stats["steps"],
        "train_seconds": round(stats["seconds"], 1),
        "final_loss": round(stats["final_loss"], 4),
        "test": mean_at_k(model, tokenizer, task, test_rows, k),
    }
    save_model(model, tokenizer, out_dir / "teacher")
    if student:
        model.load_state_dict(student.pop("state"))
        student["test"] = mean_at_k(model, tokenizer, task, test_rows, k)
        save_model(model, tokenizer, out_dir / "student")
    facts = {
        "task": "code_synthetic",
        "task_options": TASK_OPTIONS,
        "shape": SHAPE,
        "batch_size": BATCH_SIZE,
        "lr": LR,
        "seed": SEED,
        "parameters": count_parameters(model),
        "k": k,
        "train_problems": len(pairs),
        "test_problems": len(test_rows),
        "probe_problems": len(probe_rows),
        "data_seconds": round(data_seconds, 2),
        "prompt_chars": lengths([str(r["prompt"]) for r in test_rows]),
        "completion_chars": lengths([r["reference"] for r in test_rows]),
        "sandbox_completions_per_s": throughput,
        "probes": history,
        "probe_seconds": round(clock["probing"], 1),
        "teacher": teacher,
        "student": student or None,
    }
    (out_dir / "build.json").write_text(json.dumps(facts, indent=1))
    return facts


def build_pair(out_dir: Path, teacher_seconds: float, **options: Any) -> dict[str, Any]:
    """Build (or reuse) the pair and say whether it is usable: teacher at target, student in range."""
    summary_path = out_dir / "pair.json"
    if summary_path.is_file():
        return json.loads(summary_path.read_text())
    facts = build(out_dir, teacher_seconds, **options)
    teacher_mean = facts["teacher"]["test"]["mean"]
    student_mean = facts["student"]["test"]["mean"] if facts["student"] else None
    summary = {
        "target": TEACHER_TARGET,
        "student_range": list(STUDENT_RANGE),
        "teacher_mean": teacher_mean,
        "student_mean": student_mean,
        "usable": teacher_mean >= TEACHER_TARGET
        and student_mean is not None
        and STUDENT_RANGE[0] <= student_mean <= STUDENT_RANGE[1],
    }
    summary_path.write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/runs/code_models"))
    parser.add_argument(
        "--teacher-seconds", type=float, default=600.0, help="Training time (probes excluded)."
    )
    parser.add_argument("--probes", type=int, default=10, help="Test probes during training.")
    parser.add_argument("--probe-problems", type=int, default=100, help="Test problems per probe.")
    args = parser.parse_args(argv)
    if args.teacher_seconds <= 0 or args.probes < 1 or args.probe_problems < 1:
        parser.error(
            "need --teacher-seconds > 0, --probes >= 1 and --probe-problems >= 1, got "
            f"{args.teacher_seconds}, {args.probes} and {args.probe_problems}"
        )
    summary = build_pair(
        args.out, args.teacher_seconds, probes=args.probes, probe_problems=args.probe_problems
    )
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
