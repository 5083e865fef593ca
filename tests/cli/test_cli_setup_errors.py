"""Errors raised deep inside a run that mean "this machine cannot do it" print one line, exit 2."""

from __future__ import annotations

import pytest

from rlad.cli import main as cli_main
from rlad.tasks.code.sandbox_jail import SandboxUnavailable


def test_sandbox_unavailable_is_one_line(monkeypatch, capsys):
    import rlad.cli.evaluate as evaluate_command

    def refuse(args):
        raise SandboxUnavailable("no jail works here (bwrap: user namespaces disabled)\nsecond line")

    monkeypatch.setattr(evaluate_command, "run", refuse)
    code = cli_main.main(["eval", "toy:arithmetic/student", "--task", "arithmetic"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "rlad eval: error: no jail works here (bwrap: user namespaces disabled)"


def test_other_errors_still_raise(monkeypatch):
    import rlad.cli.evaluate as evaluate_command

    def broken(args):
        raise ZeroDivisionError("a bug, not a setup problem")

    monkeypatch.setattr(evaluate_command, "run", broken)
    with pytest.raises(ZeroDivisionError):
        cli_main.main(["eval", "toy:arithmetic/student", "--task", "arithmetic"])
