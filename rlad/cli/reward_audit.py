"""``rlad reward-audit TASK FILE [--out report.json]``: a task's verifier over a JSONL file of completions.

For users bringing their own data or model outputs: before training on a reward, see what it pays. Each
line of FILE is one JSON object with ``completion`` (a string, or chat messages) and either the fields the
task's verifier reads (``answer`` for math/gsm8k/arithmetic/sums, ``names`` and ``solution`` for kk, ...)
or ``prompt_index``: the position of the problem in the task's own data (``--source``/``--split``), whose
fields the line's own fields then override. Printed: the reward histogram and mean, the share fully
correct, and the completions the verifier could not parse (a zero ``answer_found``, ``parsed``, ``stated``
or ``format`` component, the first of these the task reports) with the verifier's reason. A bad input (a
missing file, a line that is not a JSON object, an unknown task, a missing field) is one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlad.cli.main import UserError

# components that say "an answer was found" (the first one a task reports is used)
PARSE_COMPONENTS = ("answer_found", "parsed", "stated", "format")
MAX_DISTINCT_VALUES = 12  # more distinct rewards than this are binned
INDEX_FIELD = "prompt_index"


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(
        name,
        help="run a task's verifier over a JSONL file of completions: reward histogram, unparsed cases",
        description=(
            "Score every completion of a JSONL file with a task's verifier (the RL reward) and print the "
            "reward distribution and the completions it could not parse. Each line: {'completion': ..., "
            f"<the task's answer fields> or '{INDEX_FIELD}': N}}."
        ),
    )
    p.add_argument("task", help="task name (e.g. math, gsm8k, kk)")
    p.add_argument("file", help="JSONL file, one {'completion': ..., ...} per line")
    p.add_argument("--out", default=None, help="also write the report (every line's score) as JSON here")
    p.add_argument(
        "--task-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the task's constructor, YAML value (repeatable), e.g. reward=logic_rl",
    )
    p.add_argument(
        "--source", default=None, help=f"task data for '{INDEX_FIELD}' lines (task default if unset)"
    )
    p.add_argument("--split", default="test", help=f"data split for '{INDEX_FIELD}' lines (default: test)")
    p.add_argument("--examples", type=int, default=5, help="unparsed completions to show (default: 5)")


def run(args: argparse.Namespace) -> int:
    lines = read_jsonl(Path(args.file))
    task = _make_task(args.task, args.task_option)
    examples = _examples(task, lines, args)
    scores = _score(task, lines, examples)
    report = audit_report(args.task, str(args.file), lines, scores, args.examples)
    print(format_report(report))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"report written to {out}")
    return 0


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; every object must have a ``completion``."""
    if not path.is_file():
        raise UserError(f"completions file '{path}' does not exist")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{number}: not valid JSON ({err.msg} at column {err.colno})") from err
            if not isinstance(row, dict):
                raise UserError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            if "completion" not in row:
                raise UserError(f"{path}:{number}: missing field 'completion'; fields: {sorted(row)}")
            completion = row["completion"]
            if not isinstance(completion, str) and not (
                isinstance(completion, list) and all(isinstance(m, dict) for m in completion)
            ):
                raise UserError(
                    f"{path}:{number}: field 'completion' must be a string or a list of chat messages, "
                    f"got {type(completion).__name__}"
                )
            rows.append((number, row))
    if not rows:
        raise UserError(f"completions file '{path}' has no lines")
    return rows


def _make_task(name: str, option_items: list[str]):
    from rlad.run.recipes import RecipeError, parse_overrides
    from rlad.tasks import TaskDataError, UnknownNameError, get_task

    try:
        return get_task(name, **parse_overrides(option_items))
    except RecipeError as err:
        raise UserError(f"--task-option: {err}") from err
    except (UnknownNameError, TaskDataError) as err:
        raise UserError(str(err)) from err
    except TypeError as err:
        raise UserError(f"bad --task-option for task {name!r}: {err}") from err


def _examples(task, lines: Sequence[tuple[int, dict[str, Any]]], args: argparse.Namespace) -> list[dict]:
    """The example each line is scored against: its own fields over its ``prompt_index`` row, if any."""
    if not any(INDEX_FIELD in row for _, row in lines):
        return [{k: v for k, v in row.items() if k != "completion"} for _, row in lines]
    from rlad.tasks import TaskDataError

    try:
        dataset = task.load(args.source, split=args.split)
    except TaskDataError as err:
        raise UserError(str(err)) from err
    examples = []
    for number, row in lines:
        base: dict[str, Any] = {}
        if INDEX_FIELD in row:
            index = row[INDEX_FIELD]
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(dataset):
                raise UserError(
                    f"{args.file}:{number}: {INDEX_FIELD} {index!r} is not a row of the task's "
                    f"{args.split!r} data (0..{len(dataset) - 1})"
                )
            base = dict(dataset[index])
        examples.append({**base, **{k: v for k, v in row.items() if k not in ("completion", INDEX_FIELD)}})
    return examples


def _score(task, lines: Sequence[tuple[int, dict[str, Any]]], examples: Sequence[dict]) -> list:
    """Scores in one batch; if that fails, line by line to name the line and the problem."""
    completions = [row["completion"] for _, row in lines]
    try:
        return task.score_batch(completions, examples)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError):
        pass
    for (number, _), completion, example in zip(lines, completions, examples):
        try:
            task.score_batch([completion], [example])
        except KeyError as err:
            raise UserError(
                f"line {number}: missing field {err.args[0]!r} (task {task.name!r} reads it); "
                f"fields: {sorted(example)}, or give '{INDEX_FIELD}'"
            ) from err
        except (ValueError, TypeError, AttributeError, IndexError) as err:
            raise UserError(
                f"line {number}: task {task.name!r} cannot score it: {type(err).__name__}: {err}"
            ) from err
    raise UserError(f"task {task.name!r} failed on the batch but on no single line")  # pragma: no cover


def parse_component(components: Mapping[str, float]) -> str | None:
    """The component that says whether an answer was found (see `PARSE_COMPONENTS`), if the task has one."""
    return next((name for name in PARSE_COMPONENTS if name in components), None)


def histogram(rewards: Sequence[float]) -> list[dict[str, Any]]:
    """Counts per distinct reward; `MAX_DISTINCT_VALUES` or more distinct values go into 10 equal bins.

    >>> histogram([0.0, 1.0, 1.0])
    [{'value': 0.0, 'count': 1}, {'value': 1.0, 'count': 2}]
    """
    counts = Counter(round(r, 6) for r in rewards)
    if len(counts) <= MAX_DISTINCT_VALUES:
        return [{"value": value, "count": counts[value]} for value in sorted(counts)]
    low, high = min(rewards), max(rewards)
    width = (high - low) / 10
    bins = Counter(min(int((r - low) / width), 9) for r in rewards)
    return [
        {"range": [low + i * width, low + (i + 1) * width], "count": bins[i]} for i in range(10) if bins[i]
    ]


def audit_report(
    task: str, file: str, lines: Sequence[tuple[int, dict[str, Any]]], scores: Sequence, n_examples: int
) -> dict[str, Any]:
    rewards = [float(s.reward) for s in scores]
    component = next((c for c in (parse_component(s.components) for s in scores) if c), None)
    unparsed = [
        (number, row, s)
        for (number, row), s in zip(lines, scores)
        if component is not None and s.components.get(component, 1.0) == 0.0
    ]
    return {
        "task": task,
        "file": file,
        "count": len(scores),
        "mean_reward": sum(rewards) / len(rewards),
        "correct": sum(bool(s.correct) for s in scores),
        "non_finite": sum(not math.isfinite(r) for r in rewards),
        "histogram": histogram([r for r in rewards if math.isfinite(r)] or [0.0]),
        "unparsed": {
            "component": component,
            "count": len(unparsed),
            "examples": [
                {"line": number, "reason": s.reason, "completion": _excerpt(row["completion"])}
                for number, row, s in unparsed[: max(0, n_examples)]
            ],
        },
        "lines": [
            {"line": number, "reward": s.reward, "correct": s.correct, "reason": s.reason, **s.components}
            for (number, _), s in zip(lines, scores)
        ],
    }


def format_report(report: Mapping[str, Any]) -> str:
    n = report["count"]
    out = [f"rlad reward-audit: task {report['task']!r}, {n} completions from {report['file']}", ""]
    out.append(f"{'reward':>22}  {'count':>6}  share")
    for row in report["histogram"]:
        label = f"{row['value']:g}" if "value" in row else "[{:.4g}, {:.4g})".format(*row["range"])
        out.append(f"{label:>22}  {row['count']:>6}  {row['count'] / n:6.1%}")
    out.append("")
    out.append(
        f"mean reward {report['mean_reward']:.4g}; fully correct {report['correct']} ({report['correct'] / n:.1%})"
    )
    unparsed = report["unparsed"]
    if unparsed["component"] is None:
        out.append("could not parse: unknown (the task reports no answer-found component)")
    else:
        out.append(
            f"could not parse: {unparsed['count']} ({unparsed['count'] / n:.1%}; {unparsed['component']} = 0)"
        )
        for example in unparsed["examples"]:
            out.append(
                f"  line {example['line']}: {example['reason'] or '(no reason given)'}: {example['completion']!r}"
            )
    return "\n".join(out)


def _excerpt(completion: Any, limit: int = 120) -> str:
    from rlad.tasks.base import completion_text

    text = completion_text(completion)
    return text if len(text) <= limit else f"{text[: limit // 2]} ... {text[-limit // 2 :]}"
