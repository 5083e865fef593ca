"""``rlad serve-teacher``: user mistakes are one-line errors with exit code 2 (the server itself: test_memory.py)."""

import pytest

from rlad.cli import serve_teacher


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/nonexistent/teacher", "--port", "8000"], "MODEL path '/nonexistent/teacher' does not exist"),
        (["{model}", "--port", "70000"], "--port 70000 is not a TCP port"),
        (["{model}", "--port", "0", "--max-sequences", "0"], "--max-sequences must be positive, got 0"),
        (["{model}", "--port", "0", "--host", "203.0.113.7"], "cannot listen on 203.0.113.7:0"),
    ],
)
def test_user_errors(argv, message, saved_pair, capsys):
    teacher = str(saved_pair[1])
    assert serve_teacher.main([a.format(model=teacher) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rlad serve-teacher: error: ") and message in err and "Traceback" not in err


def test_the_subcommand_is_registered():
    from rlad.cli.main import COMMANDS

    assert COMMANDS["serve-teacher"] == "serve_teacher"
