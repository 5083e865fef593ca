"""``rlad eval MODEL --task NAME [...]``: Mean@k / Pass@k of one model on a task (docs/method.md section 7).

Samples ``n`` completions per problem (temperature 0.6, top-p 0.95 by default: the paper's protocol),
scores them with the task's verifier (the RL reward's check), and writes ``OUT/eval.json`` (every
sample with its score) and ``OUT/eval.md`` (the summary table, also printed). ``--teacher`` adds the
teacher's mean log-prob of the samples (teacher agreement); ``--ood-subsets`` names the subsets
summarised as out of distribution. See :mod:`rlad.eval` for the metrics.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

from rlad.cli.main import UserError, one_line

EVAL_DATA_SEED = 1234  # the seed rlad.run.runner.load_task_data uses for a recipe's evaluation problems


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(
        name,
        help="evaluate a model on a task (Mean@k, Pass@k, per subset)",
        description=(
            "Evaluate a model (local path, hub name or toy:<task>/<role>) on a task: sample n completions per "
            "problem, verify them, report Mean@k and Pass@k per subset. Writes OUT/eval.json and OUT/eval.md."
        ),
    )
    p.add_argument("model", help="local path, hub name, or toy:<task>/<role>")
    p.add_argument("--task", required=True, help="task name (see rlad.tasks.list_tasks())")
    p.add_argument(
        "--source", default=None, help="task data: file, folder or hub dataset (task default if unset)"
    )
    p.add_argument("--split", default="test", help="data split (default: test)")
    p.add_argument("--limit", type=int, default=None, help="evaluate at most this many problems")
    p.add_argument(
        "--task-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the task's constructor, YAML value (repeatable), e.g. max_digits=1",
    )
    p.add_argument(
        "--data-seed", type=int, default=EVAL_DATA_SEED, help="seed of problem generation/selection"
    )
    p.add_argument("--k", type=int, default=8, help="k of Mean@k and Pass@k (default: 8; the paper: 32)")
    p.add_argument("--n", type=int, default=None, help="samples per problem, n >= k (default: k)")
    p.add_argument("--max-new-tokens", type=int, default=512, help="longest completion (default: 512)")
    p.add_argument("--temperature", type=float, default=0.6, help="sampling temperature (default: 0.6)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling top-p (default: 0.95)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    p.add_argument(
        "--greedy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also decode one greedy completion per problem (default: on)",
    )
    p.add_argument("--teacher", default=None, help="teacher model: adds its mean log-prob of the samples")
    p.add_argument("--backend", choices=("hf", "vllm"), default="hf", help="generation backend (default: hf)")
    p.add_argument("--batch-size", type=int, default=64, help="hf backend: sequences per generate call")
    p.add_argument("--ood-subsets", default="", help="comma-separated subsets that are out of distribution")
    p.add_argument("--name", default=None, help="name of the run in the report (default: the model)")
    p.add_argument("--out", default=None, help="output folder (default: eval_results/<model>)")


def _check_numbers(args: argparse.Namespace) -> None:
    n = args.k if args.n is None else args.n
    temperature_ok = math.isfinite(args.temperature) and args.temperature >= 0
    problems = [
        (args.k < 1, f"--k must be >= 1, got {args.k}"),
        (n < args.k, f"--n must be >= --k, got n={n}, k={args.k}"),
        (args.max_new_tokens < 1, f"--max-new-tokens must be >= 1, got {args.max_new_tokens}"),
        (
            not temperature_ok,
            f"--temperature must be a finite number >= 0 (0 is greedy), got {args.temperature}",
        ),
        (not 0 < args.top_p <= 1, f"--top-p must be in (0, 1], got {args.top_p}"),
        (args.limit is not None and args.limit < 1, f"--limit must be >= 1, got {args.limit}"),
        (args.batch_size < 1, f"--batch-size must be >= 1, got {args.batch_size}"),
        (args.data_seed < 0, f"--data-seed must be >= 0, got {args.data_seed}"),
        (args.seed < 0, f"--seed must be >= 0, got {args.seed}"),
    ]
    for bad, message in problems:
        if bad:
            raise UserError(message)


def default_out_dir(model: str) -> Path:
    """``eval_results/<model with path separators as _>``.

    >>> default_out_dir("runs/rlad/final").as_posix(), default_out_dir("toy:arithmetic/student").as_posix()
    ('eval_results/runs_rlad_final', 'eval_results/toy_arithmetic_student')
    """
    return Path("eval_results") / (re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_.") or "model")


def _load_task_and_data(args: argparse.Namespace):
    from rlad.run.recipes import RecipeError, parse_overrides
    from rlad.tasks import TaskDataError, UnknownNameError, get_task

    try:
        options = parse_overrides(args.task_option)
    except RecipeError as err:
        raise UserError(f"--task-option: {err}") from err
    try:
        task = get_task(args.task, **options)
    except (UnknownNameError, TaskDataError) as err:
        raise UserError(str(err)) from err
    except TypeError as err:  # a task option of the wrong type, caught by the task's own code
        raise UserError(f"bad --task-option for task {args.task!r}: {err}") from err
    try:
        dataset = task.load(args.source, split=args.split, limit=args.limit, seed=args.data_seed)
    except TaskDataError as err:
        raise UserError(str(err)) from err
    if len(dataset) == 0:
        raise UserError(f"task {args.task!r} has no problems in split {args.split!r}")
    return task, dataset


def _ood_subsets(args: argparse.Namespace, dataset) -> list[str]:
    from rlad.eval.metrics import natural_key

    wanted = [s.strip() for s in args.ood_subsets.split(",") if s.strip()]
    present = (
        sorted({str(s) for s in dataset["subset"]}, key=natural_key)
        if "subset" in dataset.column_names
        else []
    )
    unknown = [s for s in wanted if s not in present]
    if unknown:
        raise UserError(
            f"--ood-subsets {', '.join(unknown)} not in the data; subsets present: {', '.join(present) or 'none'}"
        )
    return wanted


def _settings(args: argparse.Namespace):
    """The command line's sampling options as the one evaluation record."""
    from rlad.eval.settings import EvalSettings

    return EvalSettings(
        k=args.k,
        n=args.n,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        greedy=args.greedy,
    )


def _model_or_backend(args: argparse.Namespace):
    """``(model, tokenizer, None)`` for the hf backend, ``(None, None, VLLMBackend)`` for vllm."""
    from rlad.eval import VLLMBackend
    from rlad.run.models import ModelLoadError, load_model, resolve_model

    if args.backend == "hf":
        try:
            model, tokenizer, _ = load_model(args.model)
        except ModelLoadError as err:
            raise UserError(one_line(err)) from err
        return model, tokenizer, None
    try:
        return None, None, VLLMBackend(resolve_model(args.model))
    except ImportError as err:
        raise UserError(one_line(err)) from err


def run(args: argparse.Namespace) -> int:
    from rlad.files import check_model_folder, check_writable_dir, write_text_atomic
    from rlad.run.models import ModelLoadError, check_model_path, load_model

    _check_numbers(args)
    try:  # missing folders fail before any model is loaded
        check_model_path(args.model)
        check_model_folder(args.model)
        if args.teacher:
            check_model_path(args.teacher, "--teacher model")
            check_model_folder(args.teacher, "--teacher model")
    except (ModelLoadError, FileNotFoundError) as err:
        raise UserError(str(err)) from err
    out = Path(args.out) if args.out else default_out_dir(args.model)
    try:  # an unwritable --out fails now, not after the whole evaluation
        check_writable_dir(out, "--out")
    except OSError as err:
        raise UserError(str(err)) from err
    from rlad.eval.evaluate import evaluate_model
    from rlad.run.callbacks import quiet_libraries

    quiet_libraries()  # the evaluation's own bar, not the libraries' "Loading weights"
    task, dataset = _load_task_and_data(args)
    ood = _ood_subsets(args, dataset)
    model, tokenizer, backend = _model_or_backend(args)
    teacher = None
    if args.teacher:
        try:
            teacher_model, teacher_tokenizer, _ = load_model(args.teacher)
        except ModelLoadError as err:
            raise UserError(f"--teacher: {one_line(err)}") from err
        teacher = (teacher_model, teacher_tokenizer)
    try:
        report = evaluate_model(
            model,
            tokenizer,
            task,
            dataset,
            _settings(args),
            backend=backend,
            teacher=teacher,
            ood_subsets=ood,
            name=args.name or args.model,
            show_progress=True,
        )
    except ValueError as err:  # empty data, rows without prompts: problems with the input, not the code
        raise UserError(str(err).splitlines()[0]) from err
    report.to_json(out / "eval.json")
    markdown = report.to_markdown()
    write_text_atomic(out / "eval.md", markdown)
    print(markdown)
    print(f"rlad eval: every sample in {out / 'eval.json'}, summary in {out / 'eval.md'}")
    return 0
