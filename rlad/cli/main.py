"""The ``rlad`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

Errors a user can fix (a bad recipe, an unknown key, a missing file) are raised as :class:`UserError`
and printed as one line, exit code 2, never a traceback.
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
}


class UserError(Exception):
    """A problem with the user's input; printed without a traceback."""


def _available_commands() -> dict[str, object]:
    modules = {}
    for name, module in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(f"rlad.cli.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"rlad.cli.{module}":
                raise
    return modules


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="rlad", description="RL-aware knowledge distillation of reasoning LLMs."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = _available_commands()
    for name, module in modules.items():
        module.add_parser(sub, name)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].run(args) or 0)
    except UserError as err:
        print(f"rlad {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlad: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
