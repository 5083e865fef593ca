"""The ``rlad`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

Errors a user can fix (a bad recipe, an unknown key, a missing file, a bad argument) are raised as
:class:`UserError` (or are argparse errors) and printed as one line, exit code 2, never a traceback.

Only the module of the subcommand being run is imported: ``rlad --help`` and argument errors answer
without loading torch, transformers or TRL (seconds on a busy machine). Subcommand modules therefore
import heavy libraries inside ``run``, not at the top. To add a subcommand, add a line to
``COMMANDS`` (and, for ``rlad --help``, a line to ``SUMMARIES``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

# Subcommand name -> module under rlad.cli.
COMMANDS = {
    "train": "train",
    "eval": "evaluate",
    "sft-distill": "sft_distill",
    "compare": "compare",
    "demo": "demo",
    "serve-teacher": "serve_teacher",
    "reward-audit": "reward_audit",
    "diagnose": "diagnose",
    "build-teacher": "build_teacher",
}
# Subcommand name -> the line ``rlad --help`` shows (without importing the module).
SUMMARIES = {
    "train": "train a student from a YAML recipe",
    "eval": "evaluate a model on a task (Mean@k, Pass@k, per subset)",
    "sft-distill": "offline distillation baseline: rejection-sampled teacher outputs, then SFT",
    "compare": "compare methods (grpo, kdrl, rlad, opd, sft) across seeds on one recipe",
    "demo": "GRPO vs RLAD on a tiny teacher/student pair, on this CPU, in minutes (--real: the shipped 135M pair)",
    "serve-teacher": "serve a teacher's token log-probs over HTTP (for teacher_backend=remote)",
    "reward-audit": "run a task's verifier over a JSONL file of completions: rewards, unparsed cases",
    "diagnose": "what TRRD will do for a student/teacher/task triple (log-ratios, veto share), before training",
    "build-teacher": "build a LoRA teacher that shares its student's pretraining (e.g. smollm2-135m-sums)",
}


class UserError(Exception):
    """A problem with the user's input; printed without a traceback (exit code 2)."""


class RunStopped(Exception):
    """A run that started and stopped cleanly for a reason outside the input (exit code 1).

    E.g. a remote teacher gone for good: the checkpoint is saved and the message says where.
    """


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line (``rlad train: error: ...; see rlad train --help``), exit code 2.

    Plain argparse prints the whole usage block first, which buries the message.
    """

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


class _IntermixedParser(OneLineParser):
    """Accepts ``key=value`` overrides after the options too (``RECIPE --flag x a=1``).

    Plain ``argparse`` fills a ``nargs="*"`` positional with the items before the first option and
    rejects the later ones; ``parse_known_intermixed_args`` collects them all. It calls back into
    ``parse_known_args``, hence the re-entry flag.
    """

    _inside = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._inside:
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def allow_trailing_overrides(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make a subcommand parser accept positionals (overrides) before and after its options."""
    parser.__class__ = _IntermixedParser
    return parser


def one_line(err: BaseException) -> str:
    """The first non-empty line of an error message (library errors often add paragraphs of advice)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def _short_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as one line (``UserWarning: ...``), without the source file and line they came from."""
    return f"{category.__name__}: {message}\n"


def _chosen_command(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first word that is one), if any."""
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, object]]:
    """The ``rlad`` parser with ``command``'s own arguments; the other subcommands are listed only."""
    parser = OneLineParser(prog="rlad", description="RL-aware knowledge distillation of reasoning LLMs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, module_name in COMMANDS.items():
        if name == command:
            modules[name] = importlib.import_module(f"rlad.cli.{module_name}")
            modules[name].add_parser(sub, name)
        else:
            sub.add_parser(name, help=SUMMARIES.get(name, ""))
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.formatwarning = _short_warning
    parser, modules = build_parser(_chosen_command(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or an argument error (2), already printed
        return int(done.code or 0)
    try:
        return int(modules[args.command].run(args) or 0)
    except UserError as err:
        print(f"rlad {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except RunStopped as err:
        print(f"rlad {args.command}: stopped: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rlad: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if not _is_setup_error(err):
            raise
        print(f"rlad {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2


# Errors that mean "this machine or input cannot do what was asked", raised deep inside a run: printed
# as one line like a UserError. Looked up by module so that naming them imports nothing.
SETUP_ERRORS = {"rlad.tasks.code.sandbox_jail": "SandboxUnavailable"}


def _is_setup_error(err: BaseException) -> bool:
    for module_name, class_name in SETUP_ERRORS.items():
        module = sys.modules.get(module_name)
        if module is not None and isinstance(err, getattr(module, class_name)):
            return True
    return False


if __name__ == "__main__":
    sys.exit(main())
