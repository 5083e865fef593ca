"""The child side of `sandbox`: confine this process, then run a program and its tests.

Started by `sandbox.run_tests` as ``python -I -S -B sandbox_child.py <tag>`` with a minimal environment,
in a fresh working directory, as the leader of a new session. It reads one trusted JSON job from stdin
and then, before any untrusted code runs:

1. joins the cgroups the parent made for it (a process and a memory cap for the whole tree);
2. sets rlimits: CPU seconds, address space, file size, open files, no core dumps (and, when not root,
   the process count, which Linux does not enforce for root);
3. as root: moves into new network and PID namespaces (no network; every process it starts dies with
   the namespace's init, and no outside process can be signalled by number);
4. forks: a supervisor waits for the harness and reports how it ended;
5. in the harness, installs an audit hook that refuses sockets, new processes and signals, rlimit
   changes, ctypes, frame/gc introspection (``sys._getframe``, ``tb_frame``, ``gc.get_objects``...),
   rewriting function code, writing anywhere outside the working directory and reading /proc (PEP 578
   hooks cannot be removed once added).

Results go to a file descriptor whose file has no name left on disk. A passed test is reported by writing
the random token the parent made for that test; the program never sees a token before its test passes,
so exiting early (``sys.exit(0)``, ``os._exit(0)``) or printing "PASSED" earns nothing. Test code is
rewritten by the parent (`sandbox.harden_tests`) so comparisons and truth tests only accept plain values
(ints, strings, lists of them...): an object whose ``__eq__`` always says True fails.

This file runs in the confined interpreter: stdlib only, never rlad.
"""

import json
import os
import sys

CLONE_NEWNET, CLONE_NEWPID, PR_SET_PDEATHSIG = 0x40000000, 0x20000000, 1
BLOCKED_ALWAYS = frozenset(
    {
        "socket.__new__", "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
        "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
        "resource.setrlimit", "resource.prlimit",
        "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function", "ctypes.cdata", "ctypes.addressof",
        "sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "os.symlink", "os.chroot",
    }
)  # fmt: skip
BLOCKED_PROCESSES = frozenset(
    {
        "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
        "os.kill", "os.killpg", "signal.pthread_kill", "pty.spawn",
    }
)  # fmt: skip
PROTECTED_ATTRIBUTES = frozenset({"__code__", "__defaults__", "__kwdefaults__", "__globals__", "__closure__"})
FRAME_ATTRIBUTES = frozenset(
    {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}
)  # frames hold the harness's locals
PATH_EVENTS = {  # event -> indexes of path arguments that must stay inside the working directory
    "os.remove": (0,), "os.rename": (0, 1), "os.rmdir": (0,), "os.mkdir": (0,), "os.chmod": (0,),
    "os.chown": (0,), "os.link": (0, 1), "os.truncate": (0,), "os.utime": (0,), "shutil.rmtree": (0,),
    "os.mkfifo": (0,), "os.mknod": (0,), "os.setxattr": (0,), "os.removexattr": (0,), "os.chflags": (0,),
}  # fmt: skip
READABLE_PROC = frozenset({"/proc/cpuinfo", "/proc/meminfo", "/proc/stat"})


class SandboxViolation(PermissionError, ValueError):
    """Raised by the audit hook. Also a ValueError, so stdlib code that probes sys._getframe degrades."""


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    out = job["result_fd"]
    info = job["info_token"].encode()

    def note(*words: str) -> None:
        os.write(out, b"\nI " + info + b" " + " ".join(words).encode("utf-8", "replace")[:4000] + b"\n")

    applied = confine(job)
    pid_namespace = "pid_namespace" in applied
    child = os.fork()
    if child == 0:
        if pid_namespace:  # we are init of the namespace: keep the harness out of init's special signal rules
            _set_parent_death_signal()
            harness = os.fork()
            if harness == 0:
                run_harness(job, out, note, applied)
            supervise(harness, note)
        else:
            run_harness(job, out, note, applied)
    supervise(child, note if not pid_namespace else None)


def confine(job: dict) -> list:
    """Steps 1-3 of the module docstring; returns the names of the protections that took effect."""
    import resource

    applied = []
    for path in job["cgroups"]:
        try:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            applied.append("cgroup_" + os.path.basename(os.path.dirname(path)))
        except OSError:
            pass
    limits = job["limits"]
    wanted = {
        "RLIMIT_CPU": (limits["cpu_seconds"], limits["cpu_seconds"] + 1),
        "RLIMIT_AS": (limits["memory_bytes"], limits["memory_bytes"]),
        "RLIMIT_FSIZE": (limits["max_file_bytes"], limits["max_file_bytes"]),
        "RLIMIT_NOFILE": (limits["max_open_files"], limits["max_open_files"]),
        "RLIMIT_CORE": (0, 0),
    }
    if os.geteuid() != 0:
        wanted["RLIMIT_NPROC"] = (_processes_of_user() + limits["max_processes"],) * 2
    for name, (soft, hard) in wanted.items():
        try:
            which = getattr(resource, name)
            ceiling = resource.getrlimit(which)[1]
            if ceiling != resource.RLIM_INFINITY:  # an unprivileged process cannot raise its hard limit
                soft, hard = min(soft, ceiling), min(hard, ceiling)
            resource.setrlimit(which, (soft, hard))
            applied.append(name.lower())
        except (ValueError, OSError, AttributeError):
            pass
    if os.geteuid() == 0 and sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) == 0:
            applied.append("net_namespace")
        if libc.unshare(CLONE_NEWPID) == 0:
            applied.append("pid_namespace")
    return applied


def _processes_of_user() -> int:
    uid, count = str(os.getuid()), 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{entry}/status") as f:
                count += any(line.startswith("Uid:") and line.split()[1] == uid for line in f)
        except (OSError, IndexError):
            continue
    return count


def _set_parent_death_signal() -> None:
    import ctypes

    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def supervise(pid: int, note) -> None:
    """Wait for `pid` (reaping any orphans, as a namespace init must), report how it ended, exit."""
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if done == pid:
            break
    if note is not None:
        if os.WIFSIGNALED(status):
            note("signal", str(os.WTERMSIG(status)))
        else:
            note("exit", str(os.WEXITSTATUS(status)))
    os._exit(0)


def run_harness(job: dict, out: int, note, applied: list) -> None:
    """Load the program, run each test, report; never returns."""
    import builtins

    write, tokens = os.write, [t.encode() for t in job["tokens"]]
    streams, exit_now = (sys.stdout, sys.stderr), os._exit

    def finish() -> None:
        for stream in streams:  # the original streams: the program may have replaced sys.stdout
            try:  # noqa: SIM105  (no contextlib: the program could have patched it)
                stream.flush()
            except BaseException:  # noqa: B036  (a full disk or a closed stream: nothing to report)
                pass
        exit_now(0)

    setup = compile(job["setup"], "<test setup>", "exec") if job["setup"] else None
    tests = [compile(t, f"<test {i}>", "exec") for i, t in enumerate(job["tests"])]
    program = job["program"]
    helpers = _strict_helpers()
    sys.modules.pop("ctypes", None)
    sys.modules.pop("_ctypes", None)
    sys.modules["__main__"] = type(sys)("__main__")  # hide this module (and its globals) from the program
    sys.addaudithook(_make_hook(os.getcwd(), job["allow_subprocess"]))
    applied.append("audit_hook")
    note("protections", ",".join(applied))
    del job
    namespace = {"__name__": "solution", "__builtins__": builtins}
    try:
        exec(compile(program, "<solution>", "exec"), namespace)
        if setup is not None:
            namespace.update(helpers)
            exec(setup, namespace)
    except BaseException as err:  # noqa: B036  (SystemExit and KeyboardInterrupt count as failures too)
        note("load_error", _describe(err))
        finish()
    note("loaded")
    for i, test in enumerate(tests):
        namespace.update(helpers)
        try:
            exec(test, namespace)
        except BaseException as err:  # noqa: B036
            note("fail", str(i), _describe(err))
            continue
        write(out, b"\nP " + tokens[i] + b"\n")
    note("done")
    finish()


def _describe(err: BaseException) -> str:
    try:
        message = str(err)
        return (f"{type(err).__name__}: {message}" if message else type(err).__name__)[:300]
    except BaseException:  # noqa: B036  (a hostile __str__)
        return "exception"


def _strict_helpers() -> dict:
    """Comparison and truth helpers that accept only plain values; names match `sandbox.harden_tests`."""
    scalars = (int, float, complex, bool, str, bytes, type(None))
    sequences = (list, tuple, set, frozenset)

    def plain(value, _type=type, _scalars=scalars, _sequences=sequences, _dict=dict, _len=len):
        stack, seen = [value], 0
        while stack:
            x = stack.pop()
            seen += 1
            t = _type(x)
            if t in _scalars:
                continue
            if seen > 100_000:
                return False
            if t in _sequences:
                stack.extend(x)
            elif t is _dict:
                stack.extend(x.keys())
                stack.extend(x.values())
            else:
                return False
        return True

    def check(value, _plain=plain, _error=AssertionError, _type=type):
        if not _plain(value):
            raise _error(f"test compared a non-plain value of type {_type(value).__name__}")
        return value

    def compare(ops, *operands, _check=check, _range=range, _len=len):
        for i in _range(_len(ops)):
            op, a, b = ops[i], operands[i], operands[i + 1]
            if op == "is":
                ok = a is b
            elif op == "is not":
                ok = a is not b
            else:
                _check(a)
                _check(b)
                if op == "==":
                    ok = a == b
                elif op == "!=":
                    ok = a != b
                elif op == "<":
                    ok = a < b
                elif op == "<=":
                    ok = a <= b
                elif op == ">":
                    ok = a > b
                elif op == ">=":
                    ok = a >= b
                elif op == "in":
                    ok = a in b
                else:
                    ok = a not in b
            if not ok:
                return False
        return True

    def truth(value, _check=check, _bool=bool):
        return _bool(_check(value))

    return {"__rlad_cmp__": compare, "__rlad_truth__": truth, "__rlad_plain__": check}


def _make_hook(workdir: str, allow_subprocess: bool):
    """The PEP 578 audit hook (step 5 of the module docstring)."""
    # Everything the hook uses is bound here: the program can reach this module's globals, not a closure.
    blocked = BLOCKED_ALWAYS if allow_subprocess else BLOCKED_ALWAYS | BLOCKED_PROCESSES
    path_events, readable_proc, protected, frames = (
        dict(PATH_EVENTS),
        READABLE_PROC,
        PROTECTED_ATTRIBUTES,
        FRAME_ATTRIBUTES,
    )
    abspath, realpath, fsdecode, sep, devnull = (
        os.path.abspath,
        os.path.realpath,
        os.fsdecode,
        os.sep,
        os.devnull,
    )
    violation, isinstance_, len_, any_, bool_ = SandboxViolation, isinstance, len, any, bool
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    root = realpath(workdir)
    banned_imports = frozenset(
        {"ctypes", "_ctypes"} if allow_subprocess else {"ctypes", "_ctypes", "_posixsubprocess"}
    )

    def inside(path) -> bool:
        if isinstance_(path, int):
            return False
        full = realpath(abspath(fsdecode(path)))
        return full == root or full.startswith(root + sep)

    def readable(path) -> bool:
        if isinstance_(path, int):
            return True
        for candidate in (abspath(fsdecode(path)), realpath(abspath(fsdecode(path)))):
            if candidate.startswith(("/proc/", "/dev/fd/", "/dev/std")) and candidate not in readable_proc:
                return False
        return True

    def hook(event: str, args: tuple) -> None:
        if event in blocked:
            raise violation(f"sandbox: {event} is not allowed")
        if event == "open":
            path, mode, flags = args
            if not readable(path):
                raise violation(f"sandbox: reading {path!r} is not allowed")
            writing = (mode is not None and any_(c in mode for c in "wax+")) or bool_(
                (flags or 0) & write_flags
            )
            if writing and not isinstance_(path, int) and path != devnull and not inside(path):
                raise violation(f"sandbox: writing outside the working directory is not allowed ({path!r})")
        elif event in path_events:
            for index in path_events[event]:
                if index < len_(args) and not inside(args[index]):
                    raise violation(f"sandbox: {event} outside the working directory is not allowed")
        elif event == "import" and args[0] in banned_imports:
            raise violation(f"sandbox: importing {args[0]} is not allowed")
        elif event == "object.__setattr__" and len_(args) > 1 and args[1] in protected:
            raise violation(f"sandbox: setting {args[1]} is not allowed")
        elif event == "object.__getattr__" and len_(args) > 1 and args[1] in frames:
            raise violation(f"sandbox: reading {args[1]} is not allowed")

    return hook


if __name__ == "__main__":
    main()
