"""Function-writing tasks: MBPP / HumanEval-style jsonl, scored by the fraction of tests passed.

A code record (what `load` returns, whatever the input style) has ``prompt``, ``subset``, ``entry_point``
(the function to write), ``tests`` (a list of code snippets, each raising on failure, e.g.
``assert add(1, 2) == 3``), ``setup`` (code run after the program and before the tests), ``code_prefix``
(for HumanEval: the signature and docstring, prepended when the completion only continues the body) and
``reference`` (the gold solution in a fenced block). Input styles, recognised per record:

- MBPP: ``text``, ``code``, ``test_list`` (+ optional ``test_setup_code``, ``challenge_test_list``);
- HumanEval: ``prompt``, ``canonical_solution``, ``test`` (a ``check(candidate)`` function), ``entry_point``;
  the asserts of ``check`` become separate tests when its body is a flat list of asserts;
- native: ``prompt`` (or ``problem``/``text``), ``tests``, ``entry_point``, optional ``setup``, ``solution``.

The program is the last fenced code block of the completion that defines the entry point (else the last
block, else the whole text); it runs in `sandbox`'s jail, and each assert is judged outside it.
Reward = passed / total; correct = all passed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

import datasets

from rlad.tasks.base import (
    PROMPT_STYLES,
    Completion,
    Score,
    Task,
    TaskDataError,
    completion_text,
    make_prompt,
)
from rlad.tasks.code.sandbox import SandboxJob, SandboxLimits, SandboxResult, run_many
from rlad.tasks.loading import ORIGIN, first_field, get_field, read_records, sample, to_dataset

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|$)", re.DOTALL)
_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


def extract_code(text: str, entry_point: str = "") -> str:
    """The program in a completion (see the module docstring).

    >>> extract_code("Here:\\n```python\\ndef f(x):\\n    return x\\n```\\nDone.")
    'def f(x):\\n    return x\\n'
    """
    blocks = _FENCE.findall(text)
    if not blocks:
        return text
    if entry_point:
        defining = [b for b in blocks if re.search(rf"def\s+{re.escape(entry_point)}\s*\(", b)]
        if defining:
            return defining[-1]
    return blocks[-1]


def split_check(test: str, entry_point: str) -> tuple[str, list[str]]:
    """HumanEval's ``check(candidate)`` as (setup, one test per assert), when its body allows it.

    The body may hold asserts plus imports, function definitions and assignments that do not call
    ``candidate``; anything else (loops, conditionals) keeps the whole check as a single test.
    ``assert True``-style constant asserts are dropped.
    """
    whole = (f"{test}\ncandidate = {entry_point}", [f"check({entry_point})"])
    try:
        module = ast.parse(test)
    except SyntaxError as err:
        raise TaskDataError(f"HumanEval test code does not parse: {err}") from err
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1:
        return whole
    setup = [ast.unparse(n) for n in module.body if n is not checks[0]] + [f"candidate = {entry_point}"]
    asserts = []
    for stmt in checks[0].body:
        if isinstance(stmt, ast.Assert):
            if not isinstance(stmt.test, ast.Constant):
                asserts.append(ast.unparse(stmt))
        elif isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef)) or (
            isinstance(stmt, ast.Assign) and "candidate" not in ast.unparse(stmt)
        ):
            setup.append(ast.unparse(stmt))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring or a bare string
        else:
            return whole
    return ("\n".join(setup), asserts) if asserts else whole


class CodeTask(Task):
    """MBPP / HumanEval / native code problems from jsonl, json, parquet, directories or the hub.

    Options: ``prompt_style`` (``chat``/``plain``), ``show_tests`` (MBPP: how many tests the prompt shows,
    default 1, which also fixes the function name), ``include_challenge_tests`` (MBPP),
    ``cpu_seconds``, ``wall_seconds``, ``test_seconds``, ``memory_mb`` (sandbox limits per program),
    ``unsplit_tests`` (``run``: tests that are not a single assert run whole in the jail, where a program
    can forge them; ``fail``: they fail), ``allow_unjailed`` (run without a jail where none works: rlimits
    only), ``max_workers`` (programs run in parallel; default four per CPU).
    """

    name = "code"

    def __init__(
        self,
        prompt_style: str = "chat",
        show_tests: int = 1,
        include_challenge_tests: bool = False,
        cpu_seconds: int = 2,
        wall_seconds: float = 5.0,
        memory_mb: int = 512,
        max_workers: int | None = None,
        test_seconds: float | None = None,
        unsplit_tests: str = "run",
        allow_unjailed: bool = False,
    ):
        if prompt_style not in PROMPT_STYLES:
            raise TaskDataError(f"unknown prompt_style {prompt_style!r}; valid: {', '.join(PROMPT_STYLES)}")
        self.prompt_style, self.show_tests, self.include_challenge_tests = (
            prompt_style,
            show_tests,
            include_challenge_tests,
        )
        self.limits = SandboxLimits(
            cpu_seconds=cpu_seconds,
            wall_seconds=wall_seconds,
            test_seconds=test_seconds,
            memory_bytes=memory_mb << 20,
            unsplit_tests=unsplit_tests,
            allow_unjailed=allow_unjailed,
        )
        self.max_workers = max_workers

    def load(
        self,
        source: str | None = None,
        split: str = "train",
        limit: int | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> datasets.Dataset:
        if source is None:
            raise TaskDataError(
                "task 'code' needs source= an MBPP/HumanEval-style jsonl file, a directory or a hub name"
            )
        records = sample(read_records(source, split, **kwargs), limit, seed)
        return to_dataset([self._row(r) for r in records], f"code {source} [{split}]")

    def _row(self, record: Mapping[str, Any]) -> dict[str, Any]:
        if "test_list" in record:
            row = self._mbpp(record)
        elif "canonical_solution" in record or ("test" in record and "entry_point" in record):
            row = self._humaneval(record)
        else:
            row = self._native(record)
        for i, test in enumerate(row["tests"]):
            try:
                ast.parse(test)
            except SyntaxError as err:
                raise TaskDataError(f"{record.get(ORIGIN)}: test {i} does not parse: {err.msg}") from err
        return {"task_id": str(record.get("task_id", "")), **row}

    def _mbpp(self, record: Mapping[str, Any]) -> dict[str, Any]:
        text, code = str(first_field(record, ("text", "prompt"))), str(record.get("code") or "")
        tests = [str(t) for t in get_field(record, "test_list")]
        if self.include_challenge_tests:
            tests += [str(t) for t in record.get("challenge_test_list") or []]
        names = _DEF.findall(code)
        entry = names[0] if names else ""
        shown = "\n".join(tests[: self.show_tests])
        prompt = (
            f"{text}\nYour code should pass these tests:\n{shown}\n"
            "Write the function in a ```python code block."
        )
        return self._finish(prompt, "mbpp", entry, tests, str(record.get("test_setup_code") or ""), "", code)

    def _humaneval(self, record: Mapping[str, Any]) -> dict[str, Any]:
        stub, entry = str(get_field(record, "prompt")), str(get_field(record, "entry_point"))
        setup, tests = split_check(str(get_field(record, "test")), entry)
        prompt = (
            "Complete the following Python function. Reply with the full function in a ```python code block."
            f"\n\n```python\n{stub}```"
        )
        solution = stub + str(record.get("canonical_solution") or "")
        return self._finish(prompt, "humaneval", entry, tests, setup, stub, solution)

    def _native(self, record: Mapping[str, Any]) -> dict[str, Any]:
        text = str(first_field(record, ("prompt", "problem", "text")))
        tests = get_field(record, "tests")
        if not isinstance(tests, (list, tuple)) or not tests:
            raise TaskDataError(
                f"{record.get(ORIGIN)}: field 'tests' must be a non-empty list of code strings"
            )
        subset = str(record.get("subset") or "code")
        return self._finish(
            text, subset, str(record.get("entry_point") or ""), [str(t) for t in tests],
            str(record.get("setup") or ""), "", str(record.get("solution") or ""),
        )  # fmt: skip

    def _finish(
        self, text: str, subset: str, entry: str, tests: list[str], setup: str, prefix: str, solution: str
    ) -> dict[str, Any]:
        return {
            "prompt": make_prompt(text, self.prompt_style),
            "subset": subset,
            "entry_point": entry,
            "tests": tests,
            "setup": setup,
            "code_prefix": prefix,
            "reference": f"```python\n{solution.rstrip()}\n```" if solution else "",
        }

    def program_of(self, completion: str, example: Mapping[str, Any]) -> str:
        """The program to run: the extracted code, after the HumanEval stub if it only continues the body."""
        entry, prefix = str(example.get("entry_point") or ""), str(example.get("code_prefix") or "")
        code = extract_code(completion, entry)
        if prefix and entry and not re.search(rf"def\s+{re.escape(entry)}\s*\(", code):
            code = prefix + code
        return code

    def score(self, completion: str, example: Mapping[str, Any]) -> Score:
        return self.score_batch([completion], [example])[0]

    def score_batch(
        self, completions: Sequence[Completion], examples: Sequence[Mapping[str, Any]]
    ) -> list[Score]:
        jobs = [
            SandboxJob(
                self.program_of(completion_text(c), ex),
                tuple(ex["tests"]),
                str(ex.get("setup") or ""),
                str(ex.get("entry_point") or ""),
            )
            for c, ex in zip(completions, examples, strict=True)
        ]
        return [code_score(r) for r in run_many(jobs, self.limits, self.max_workers)]


def code_score(result: SandboxResult) -> Score:
    """Reward = fraction of tests passed; components for logging."""
    components = {
        "pass_fraction": result.fraction,
        "format": float(result.status != "load_error"),  # the completion is a program that loads
        "limit_hit": float(result.status in ("timeout", "cpu_limit", "output_limit")),
        "unsplit": result.unsplit / result.total if result.total else 0.0,  # tests a program could forge
    }
    correct = result.total > 0 and result.passed == result.total
    return Score(result.fraction, components, "" if correct else result.reason, correct=correct)
