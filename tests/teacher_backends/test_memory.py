"""With a remote teacher the training process's peak memory no longer includes the teacher's weights.

Subprocesses, each measuring its own ru_maxrss: a ~1M-parameter student trained 3 steps with a
~50M-parameter teacher (192 MiB of float32 weights) held locally, or served by `rlad serve-teacher`
in a third process. Measured on the 2-core CPU machine: local 707 MiB, remote 503 MiB, no teacher 503 MiB.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from teacher_backends.backend_memory_probe import make

PROBE = Path(__file__).with_name("backend_memory_probe.py")
# One thread each: three processes share the 2 cores without oversubscription (memory is unaffected).
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def _start(*command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_remote_teacher_is_not_in_the_training_process(tmp_path):
    teacher_mib = make(str(tmp_path))["teacher_params"] * 4 / 2**20  # float32 weights
    with socket.socket() as s:  # a free port, so that the client can start before the server is up
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = _start("-m", "rlad.cli.serve_teacher", str(tmp_path / "teacher"), "--port", str(port))
    try:
        # All three at once (each process's peak is its own); the client retries until the server answers.
        local = _start(str(PROBE), "train", str(tmp_path), "local")
        remote = _start(str(PROBE), "train", str(tmp_path), "remote", f"http://127.0.0.1:{port}")
        local_run, remote_run = _result(local), _result(remote)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"teacher weights {teacher_mib:.0f} MiB; peak RSS local {local_run['peak_rss_mib']} MiB, "
        f"remote {remote_run['peak_rss_mib']} MiB"
    )
    assert remote_run["peak_rss_mib"] < local_run["peak_rss_mib"] - 0.75 * teacher_mib
    assert remote_run["losses"] == pytest.approx(local_run["losses"], rel=1e-4, abs=1e-6)
    assert server.returncode == 0, server.stderr.read()  # SIGTERM stops the server cleanly
