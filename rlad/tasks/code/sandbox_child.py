"""The jailed side of `sandbox`: load a program, evaluate the probes of each test, send their values out.

Started by `sandbox.run_tests` as ``python -I -S -B child.py <tag>`` inside the jail (`sandbox_jail`). It
reads one job (`marshal`-led by the parent) from stdin: rlimits to set, the program, the setup, and per
test either ``probes`` (expressions such as ``f(2)``, whose values it sends back) or ``whole`` test code
with a random ``token`` (sent back when the code raises nothing). It writes lines to the result pipe::

    L ok | L error <description>     the program and setup loaded, or failed to
    T <i> <json>                     test i's probe results: [{"v": value} | {"e": "error"}, ...]
    W <i> <token>                    whole test i raised nothing
    F <i> <description>              whole test i raised
    D                                every test ran

Nothing here decides a verdict: the parent compares the values with the expected ones, which never enter
this process, so a program that rebinds anything in this interpreter (this module included) only changes
values it could have returned itself. Values are tagged JSON (`encode`) of exact builtin types only, with a
size budget. This file runs in the jail: stdlib only, never rlad.
"""

import marshal
import os
import sys

_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)} | {ord('"'): '\\"', ord("\\"): "\\\\"}
_TAGS = {tuple: "t", set: "s", frozenset: "fs"}


def encode(value, budget):
    """Tagged JSON text of a plain value, or ``{"x": "<type name>"}`` for anything else (exact builtin
    types only, so no method of the value runs). `budget` is a one-item list: the nodes plus characters
    still allowed, shared by every value of a run. Written without `json`, whose import doubles the
    start-up time of this process."""
    kind = type(value)
    budget[0] -= 1 + (len(value) if kind is str or kind is bytes else 0)
    if budget[0] < 0:
        return '{"x": "value too large"}'
    if kind is str:
        return text(value)
    if value is None or kind is bool:
        return {None: "null", True: "true", False: "false"}[value]
    if kind is int:
        try:
            return '{"i": "' + int.__repr__(value) + '"}'
        except ValueError:
            return '{"x": "int with too many digits"}'
    if kind is float:
        return '{"f": "' + float.__repr__(value) + '"}'
    if kind is complex:
        return '{"c": ["' + float.__repr__(value.real) + '", "' + float.__repr__(value.imag) + '"]}'
    if kind is bytes:
        return '{"b": "' + bytes.hex(value) + '"}'
    if kind is list:
        return "[" + ", ".join([encode(x, budget) for x in list.copy(value)]) + "]"
    if kind in _TAGS:
        return '{"' + _TAGS[kind] + '": [' + ", ".join([encode(x, budget) for x in tuple(value)]) + "]}"
    if kind is dict:
        pairs = [f"[{encode(k, budget)}, {encode(v, budget)}]" for k, v in dict.items(value)]
        return '{"d": [' + ", ".join(pairs) + "]}"
    return '{"x": ' + text(getattr(kind, "__name__", "object")[:100]) + "}"


def text(value):
    return '"' + str.translate(value, _ESCAPES) + '"'


def describe(err):
    try:
        message = str(err)
        return (f"{type(err).__name__}: {message}" if message else type(err).__name__)[:300]
    except BaseException:  # noqa: B036  (a hostile __str__)
        return "exception"


def main():
    job = marshal.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _set_limits(job["rlimits"])
    out, budget = job["result_fd"], [job["max_value_size"]]

    def send(line):
        os.write(out, b"\n" + line.encode("utf-8", "replace") + b"\n")

    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    try:
        exec(compile(job["program"], "<solution>", "exec"), namespace)
        if job["setup"]:
            exec(compile(job["setup"], "<test setup>", "exec"), namespace)
    except BaseException as err:  # noqa: B036  (SystemExit and KeyboardInterrupt count as failures too)
        send("L error " + describe(err).replace("\n", " "))
        _finish()
    send("L ok")
    for i, test in enumerate(job["tests"]):
        if "whole" in test:
            try:
                exec(compile(test["whole"], f"<test {i}>", "exec"), namespace)
            except BaseException as err:  # noqa: B036
                send(f"F {i} " + describe(err).replace("\n", " "))
                continue
            send(f"W {i} {test['token']}")
            continue
        results = []
        for source in test["probes"]:
            try:
                value = eval(compile(source, f"<test {i}>", "eval"), namespace)
                results.append('{"v": ' + encode(value, budget) + "}")
            except BaseException as err:  # noqa: B036
                results.append('{"e": ' + text(describe(err)) + "}")
        send(f"T {i} [" + ", ".join(results) + "]")
    send("D")
    _finish()


def _set_limits(rlimits):
    """Lower soft and hard limits before any untrusted code runs (lowering needs no privilege). Inside the
    jail's user namespace RLIMIT_NPROC counts only the jail's own processes (Linux >= 5.14) unless the jail
    is host root, where the parent's cgroup caps processes instead; unjailed, it counts the user's."""
    import resource

    for name, soft, hard in rlimits:
        which = getattr(resource, name)
        ceiling = resource.getrlimit(which)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        try:  # noqa: SIM105  (no contextlib: keep this file's imports minimal)
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass


def _finish():
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105  (no contextlib: keep this file's imports minimal)
            stream.flush()
        except BaseException:  # noqa: B036  (a closed stream or a full file: nothing to report)
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
