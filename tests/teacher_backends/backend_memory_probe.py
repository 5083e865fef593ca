"""Peak memory (VmHWM) of a short training run with the teacher local, remote, or absent.

Used by test_memory.py, and by hand for the numbers in docs/teachers.md::

    python tests/teacher_backends/backend_memory_probe.py make DIR [TEACHER_HIDDEN TEACHER_LAYERS]
    python tests/teacher_backends/backend_memory_probe.py train DIR local
    rlad serve-teacher DIR/teacher --port 8123 &     # or: python -m rlad.cli.serve_teacher ...
    python tests/teacher_backends/backend_memory_probe.py train DIR remote http://127.0.0.1:8123
    python tests/teacher_backends/backend_memory_probe.py train DIR none      # loss=grpo, no teacher at all

``make`` saves a ~1M-parameter student and a ~50M-parameter teacher (hidden 512, 12 layers) sharing the
toy character tokenizer; ``train`` prints one JSON line: peak RSS in MiB, the losses, parameter counts.
"""

import json
import os
import resource
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM, else ru_maxrss.

    VmHWM belongs to the memory map created at exec; Linux carries ru_maxrss over exec, so a child of a
    large process (pytest holding a 50M-parameter model) would report its parent's peak as its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def make(root: str, hidden: int = 512, layers: int = 12) -> dict[str, int]:
    from rlad.toy.models import build_tiny_llama, count_parameters, save_model
    from rlad.toy.tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    student = build_tiny_llama(tokenizer, hidden_size=128, num_layers=4, num_heads=4, seed=0)
    teacher = build_tiny_llama(tokenizer, hidden_size=hidden, num_layers=layers, num_heads=8, seed=1)
    save_model(student, tokenizer, os.path.join(root, "student"))
    save_model(teacher, tokenizer, os.path.join(root, "teacher"))
    return {"student_params": count_parameters(student), "teacher_params": count_parameters(teacher)}


def train(root: str, backend: str, url: str | None = None) -> None:
    from datasets import Dataset

    from rlad.teacher import RemoteTeacher
    from rlad.toy.tokenizer import build_char_tokenizer
    from rlad.trainer import RLADConfig, RLADTrainer

    tokenizer = build_char_tokenizer()
    rows = [{"prompt": f"{a}+{b}="} for a in range(10) for b in range(10)]
    config = {
        "max_steps": 3,
        "per_device_train_batch_size": 8,
        "num_generations": 4,
        "max_completion_length": 16,
        "learning_rate": 5e-3,
        "logging_steps": 1,
        "report_to": "none",
        "save_strategy": "no",
        "bf16": False,
        "seed": 7,
        "disable_tqdm": True,
    }
    teacher = None
    if backend == "local":
        config["teacher_model"] = os.path.join(root, "teacher")
    elif backend == "remote":
        # The server may still be starting: retry every second for a minute.
        teacher = RemoteTeacher(url, max_retries=60, backoff_s=0.25, max_backoff_s=1.0)
    elif backend == "none":
        config["loss"] = "grpo"
    else:
        raise SystemExit(f"unknown backend {backend!r}: local, remote or none")
    args = RLADConfig(output_dir=os.path.join(root, f"out-{backend}"), **config)

    def digit_fraction(completions, **kwargs):
        return [sum(ch.isdigit() for ch in c) / max(len(c), 1) for c in completions]

    trainer = RLADTrainer(
        model=os.path.join(root, "student"),
        reward_funcs=digit_fraction,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        teacher=teacher,
    )
    trainer.train()
    peak_mib = peak_rss_mib()
    losses = [rec["loss"] for rec in trainer.state.log_history if "loss" in rec]
    print(json.dumps({"backend": backend, "peak_rss_mib": round(peak_mib, 1), "losses": losses}))


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "make":
        print(json.dumps(make(rest[0], *map(int, rest[1:]))))
    else:
        train(*rest)
