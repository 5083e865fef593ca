"""``rlad serve-teacher``: user mistakes are one-line errors with exit code 2, before the model loads.

(The server itself: test_server*.py and test_memory.py.)
"""

import http.client
import json
import os
import re
import subprocess
import sys

import pytest
import torch

from rlad.cli import serve_teacher
from rlad.teacher import local
from rlad.teacher.serving import protocol, server


@pytest.fixture()
def no_model_load(monkeypatch):
    """Loading the model fails the test: every error below must come before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(server.TeacherServer, "from_pretrained", refuse)
    monkeypatch.delenv(protocol.API_KEY_ENV, raising=False)


def _run(argv, teacher, capsys):
    code = serve_teacher.main([a.format(model=teacher) for a in argv])
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/nonexistent/teacher", "--port", "8000"], "MODEL path '/nonexistent/teacher' does not exist"),
        (["{model}", "--port", "70000"], "--port 70000 is not a TCP port"),
        (["{model}", "--port", "-1"], "--port -1 is not a TCP port (0 .. 65535)"),
        (["{model}", "--port", "0", "--max-sequences", "0"], "--max-sequences must be positive, got 0"),
        (["{model}", "--max-body-mb", "nan"], "--max-body-mb must be a positive finite size"),
        (["{model}", "--max-body-mb", "inf"], "--max-body-mb must be a positive finite size"),
        (
            ["{model}", "--max-body-mb", "0"],
            "--max-body-mb must be a positive finite size (at least one byte), got 0.0",
        ),
        (["{model}", "--max-body-mb", "-1"], "--max-body-mb must be a positive finite size"),
        (["{model}", "--max-text-kb=-inf"], "--max-text-kb must be a positive finite size"),
        (["{model}", "--device", "tpu"], "--device 'tpu' is not a device; use cpu, cuda, cuda:N or mps"),
        (["{model}", "--device", "meta"], "--device 'meta' is not a device"),
        (["{model}", "--device", "cuda:x"], "--device 'cuda:x' is not a device"),
        (
            ["{model}", "--host", "0.0.0.0"],
            "host '0.0.0.0' is reachable from other machines and no API key is set",
        ),
        (["{model}", "--host", ""], "no API key is set"),
        (["{model}", "--api-key", ""], "--api-key must be visible ASCII characters with no spaces"),
        (["{model}", "--api-key", "two words"], "--api-key must be visible ASCII characters"),
        (["{model}", "--served-model-name", ""], "--served-model-name must not be empty"),
    ],
)
def test_user_errors_before_the_model_loads(argv, message, saved_pair, capsys, no_model_load):
    code, err = _run(argv, str(saved_pair[1]), capsys)
    assert code == 2 and err.startswith("rlad serve-teacher: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cuda_without_cuda(saved_pair, capsys, no_model_load, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    for device in ("cuda", "cuda:0"):
        code, err = _run(["{model}", "--device", device], str(saved_pair[1]), capsys)
        assert code == 2 and f"--device '{device}': this machine has no CUDA device" in err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    code, err = _run(["{model}", "--device", "cuda:2"], str(saved_pair[1]), capsys)
    assert code == 2 and "has 2 CUDA device(s), cuda:0 .. cuda:1" in err


def test_the_environment_key_is_checked_too(saved_pair, capsys, no_model_load, monkeypatch):
    monkeypatch.setenv(protocol.API_KEY_ENV, "bad\nkey")
    code, err = _run(["{model}"], str(saved_pair[1]), capsys)
    assert code == 2 and f"{protocol.API_KEY_ENV} must be visible ASCII characters" in err


def test_a_busy_or_foreign_address_is_one_line(saved_pair, capsys):
    # 203.0.113.7 (TEST-NET-3) is on no interface here: binding fails before the model loads.
    code, err = _run(
        ["{model}", "--port", "0", "--host", "203.0.113.7", "--api-key", "k"], str(saved_pair[1]), capsys
    )
    assert code == 2 and "cannot listen on 203.0.113.7:0" in err and err.count("\n") == 1


def test_argparse_errors_exit_2(saved_pair, capsys):
    for argv in (
        ["{model}", "--port", "http"],
        ["{model}", "--dtype", "int4"],
        ["{model}", "--max-body-mb", "x"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            _run(argv, str(saved_pair[1]), capsys)
        assert exit_info.value.code == 2


def _status(port: int, path: str, headers: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_served_key_comes_from_the_environment(saved_pair):
    """The command as run: the key from RLAD_TEACHER_API_KEY guards every endpoint but /health."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", protocol.API_KEY_ENV: "k-123"}
    command = [
        sys.executable,
        "-m",
        "rlad.cli.serve_teacher",
        str(saved_pair[1]),
        "--port",
        "0",
        "--device",
        "cpu",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()  # blocks until the server listens (or the process ends)
        match = re.search(r"at http://127\.0\.0\.1:(\d+) .*API key required", first)
        assert match, first + proc.stderr.read() if proc.poll() is not None else first
        port = int(match.group(1))
        assert _status(port, "/v1/models", {})[0] == 401
        assert _status(port, "/v1/models", {"Authorization": "Bearer k-12"})[1]["error"]["code"] == 401
        assert _status(port, "/v1/models", {"Authorization": "Bearer k-123"})[0] == 200
        assert _status(port, "/health", {}) == (200, {"status": "ok"})
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_light_module_agrees_with_the_heavy_ones():
    """serve_teacher repeats two names so that `rlad --help` need not import torch."""
    assert tuple(local.DTYPES) == serve_teacher.DTYPE_NAMES
    assert protocol.API_KEY_ENV == serve_teacher.API_KEY_ENV


def test_the_subcommand_is_registered():
    from rlad.cli.main import COMMANDS

    assert COMMANDS["serve-teacher"] == "serve_teacher"
