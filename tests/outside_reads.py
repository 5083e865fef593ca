"""A pytest plugin that fails the run when a test or a task opens a file outside the repository.

The project must carry everything it needs (issue 14): data, specs and fixtures live in the
repository, so a clone with nothing beside it passes the suite. A read of ``../something`` works on
the machine where it was written and nowhere else; this plugin makes that a failure everywhere.

How: ``sys.addaudithook`` sees every ``open`` of this Python process (``open``, ``io.open``,
``os.open``, ``Path.read_text``...) and every directory listing (``os.listdir``, ``os.scandir``, so
``Path.rglob``/``glob``). A path is an offence when it resolves outside the repository and outside
the places any Python program reads: the interpreter and the virtual environment, the temporary
directory (pytest's ``tmp_path`` lives there), system directories (``/usr``, ``/etc``, ``/proc``...)
and dot-directories of the home directory (caches and configuration: ``~/.cache/huggingface``,
``~/.config/matplotlib``). ``RLAD_AUDIT_ALLOW`` adds prefixes (``os.pathsep``-separated) for
machines that keep such caches elsewhere. At the end of the session the offending paths are listed,
each with the test that opened it, and the exit status becomes 1.

Limits: an audit hook sees this process only (not subprocesses it starts), and C++ code that opens
files itself (pyarrow given a path string) is invisible to it; ``rlad.tasks.loading`` therefore
hands pyarrow an open Python file.

Loaded by ``tests/conftest.py``; ``pytest -p outside_reads`` (with ``tests/`` on ``sys.path``) loads it
into any other pytest run, which is how ``tests/test_no_outside_reads.py`` proves it fails.
"""

from __future__ import annotations

import contextlib
import os
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_EVENTS = ("open", "os.listdir", "os.scandir")
_SYSTEM = ("/proc", "/sys", "/dev", "/etc", "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/opt",
           "/run", "/var/cache", "/var/lib", "/var/tmp", "/tmp", "/private/tmp", "/private/var/folders",
           "/System", "/Library", "/nix/store")  # fmt: skip
_CACHE_VARS = ("HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_CACHE", "TRANSFORMERS_CACHE", "XDG_CACHE_HOME",
               "XDG_CONFIG_HOME", "MPLCONFIGDIR", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR",
               "PYTHONPYCACHEPREFIX", "VIRTUAL_ENV", "PYENV_ROOT", "CONDA_PREFIX")  # fmt: skip

_offences: list[tuple[str, str]] = []  # (path, the test that opened it), in order, whole session
_captures: list[list[str]] = []  # open capture() lists: every absolute path seen while they are open
_state = threading.local()
_current_test = ["(collection or session set-up)"]
_installed = [False]


def _with_sep(path: str) -> str:
    return path.rstrip(os.sep) + os.sep


def _allowed_prefixes() -> tuple[str, ...]:
    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, tempfile.gettempdir()}
    places |= {p for p in sysconfig.get_paths().values() if p}
    places |= {os.environ[v] for v in _CACHE_VARS if os.environ.get(v)}
    places |= {p for p in os.environ.get("RLAD_AUDIT_ALLOW", "").split(os.pathsep) if p}
    places |= set(_SYSTEM)
    resolved = {os.path.realpath(p) for p in places} | places
    return tuple(sorted(_with_sep(p) for p in resolved))


_ALLOWED = _allowed_prefixes()
_REPO_PREFIX = _with_sep(str(REPO))
_HOME = _with_sep(os.path.expanduser("~"))
# where our own machines keep data beside the clone (unless the clone itself is called "shared")
_SIBLING = _with_sep(str(REPO.parent / "shared")) if REPO.name != "shared" else "\0"


def is_outside(path: str, follow_links: bool = True) -> bool:
    """True when absolute `path` is neither in the repository nor in an allowed place (see the docstring).

    A ``shared`` folder beside the repository is outside wherever the clone lives (even in ``/tmp``),
    and a link inside the repository counts where it points.
    """
    if path.startswith(_SIBLING) or path + os.sep == _SIBLING:
        return True
    if path.startswith(_REPO_PREFIX) or path + os.sep == _REPO_PREFIX:
        real = os.path.realpath(path) if follow_links else path
        return real != path and is_outside(real, follow_links=False)
    if path.startswith(_ALLOWED) or path + os.sep == _HOME:
        return False
    if path.startswith(_HOME) and path[len(_HOME) :].startswith("."):
        return False  # ~/.cache, ~/.config, ~/.netrc...: caches and configuration, not project files
    real = os.path.realpath(path) if follow_links else path  # the few paths left: symbolic links
    return is_outside(real, follow_links=False) if real != path else True


def _absolute(raw: object) -> str | None:
    if isinstance(raw, int) or raw is None:
        return None  # a file descriptor: whatever it is was opened (and checked) before
    path = os.fsdecode(os.fspath(raw))  # type: ignore[arg-type]
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(os.getcwd(), path))


def _hook(event: str, args: tuple) -> None:
    if event not in _EVENTS or getattr(_state, "busy", False):
        return
    _state.busy = True
    try:
        path = _absolute(args[0] if args else None)
        if path is None:
            return
        for captured in _captures:
            captured.append(path)
        if is_outside(path):
            _offences.append((path, _current_test[0]))
    except Exception:  # an audit hook must never break the open it watches
        pass
    finally:
        _state.busy = False


def install() -> None:
    """Add the audit hook to this process (once: audit hooks cannot be removed)."""
    if not _installed[0]:
        sys.addaudithook(_hook)
        _installed[0] = True


def offences() -> list[tuple[str, str]]:
    """(path, test) of every outside open so far in this session."""
    return list(_offences)


@contextlib.contextmanager
def capture() -> Iterator[list[str]]:
    """Every absolute path opened or listed (inside or outside) while the block runs."""
    install()
    seen: list[str] = []
    _captures.append(seen)
    try:
        yield seen
    finally:
        _captures.remove(seen)


# ------------------------------------------------------------------------------------------ pytest hooks
def pytest_configure(config: pytest.Config) -> None:
    install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid: str, location: tuple) -> None:
    _current_test[0] = nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _offences:
        return
    unique = dict.fromkeys(_offences)  # keep order, drop repeats
    lines = [f"{len(unique)} open(s) outside the repository {REPO} (tests/outside_reads.py):"]
    lines += [f"  {path}  <- {test}" for path, test in list(unique)[:50]]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
