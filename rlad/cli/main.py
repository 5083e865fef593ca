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


class _IntermixedParser(argparse.ArgumentParser):
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
