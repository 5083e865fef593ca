"""Training with a remote teacher: the same losses as with the local teacher, through a server restart."""

import threading

import pytest
from trainer_helpers import COMMON, addition_dataset, digit_fraction

from rlad.teacher import OffloadedTeacher, RemoteTeacher, TeacherUnavailableError
from rlad.teacher.serving.server import TeacherServer
from rlad.toy.models import build_tiny_llama
from rlad.trainer import RLADConfig, RLADTrainer

TEMPERATURE = (
    0.9  # not 1, so that the remote teacher must apply the sampling temperature as the local one does
)
SEQUENCES_SCORED = COMMON["max_steps"] * COMMON["per_device_train_batch_size"]


def _train(tokenizer, tmp_path, teacher, teacher_tokenizer=None, **config):
    student = build_tiny_llama(tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0)
    args = RLADConfig(
        output_dir=str(tmp_path), **{**COMMON, "loss": "trrd", "temperature": TEMPERATURE, **config}
    )
    trainer = RLADTrainer(
        model=student,
        reward_funcs=digit_fraction,
        args=args,
        train_dataset=addition_dataset(),
        processing_class=tokenizer,
        teacher=teacher,
        teacher_tokenizer=teacher_tokenizer,
    )
    try:
        trainer.train()
    finally:
        losses = [rec["loss"] for rec in trainer.state.log_history if "loss" in rec]
    return losses, trainer


@pytest.fixture(scope="module")
def local_losses(teacher_model, char_tokenizer, tmp_path_factory):
    losses, _ = _train(char_tokenizer, tmp_path_factory.mktemp("local"), teacher_model, char_tokenizer)
    assert len(losses) == 3
    return losses


class StopServerDuringScoring:
    """A TeacherScorer wrapper that stops the server as scoring call ``at_call`` starts (restarting it later)."""

    def __init__(
        self, inner: RemoteTeacher, server: TeacherServer, at_call: int, restart_after_s: float | None
    ):
        self.inner, self.server, self.at_call, self.restart_after_s = inner, server, at_call, restart_after_s
        self.tokenizer = inner.tokenizer
        self.calls = 0
        self.restarted: TeacherServer | None = None

    def _restart(self):
        self.restarted = TeacherServer(
            self.server.app.model, self.server.app.tokenizer, port=self.server.port
        ).start()

    def score(self, *batch):
        self.calls += 1
        if self.calls == self.at_call:
            self.server.stop()
            if self.restart_after_s is not None:
                threading.Timer(self.restart_after_s, self._restart).start()
        return self.inner.score(*batch)


def test_remote_teacher_trains_like_the_local_one(local_losses, server, char_tokenizer, tmp_path):
    remote = RemoteTeacher(server.url, temperature=TEMPERATURE, batch_size=3, max_concurrency=2)
    losses, trainer = _train(char_tokenizer, tmp_path, remote)
    assert losses == pytest.approx(local_losses, rel=1e-5, abs=1e-7)
    assert remote.stats["sequences"] == SEQUENCES_SCORED and remote.stats["failed_attempts"] == 0
    assert trainer.state.global_step == 3


def test_training_waits_for_a_restarted_server(local_losses, server, char_tokenizer, tmp_path):
    remote = RemoteTeacher(
        server.url, temperature=TEMPERATURE, max_retries=100, backoff_s=0.05, max_backoff_s=0.3
    )
    flaky = StopServerDuringScoring(remote, server, at_call=2, restart_after_s=1.0)
    try:
        losses, trainer = _train(char_tokenizer, tmp_path, flaky)
    finally:
        if flaky.restarted is not None:
            flaky.restarted.stop()
    assert flaky.restarted is not None and remote.stats["failed_attempts"] >= 2
    # Nothing lost, nothing done twice: three steps, each scored once, with the losses of the local run.
    assert trainer.state.global_step == 3 and flaky.calls == 3
    assert remote.stats["sequences"] == SEQUENCES_SCORED
    assert losses == pytest.approx(local_losses, rel=1e-5, abs=1e-7)


def test_training_stops_with_a_clear_message_when_the_budget_is_spent(server, char_tokenizer, tmp_path):
    remote = RemoteTeacher(server.url, temperature=TEMPERATURE, max_retries=2, backoff_s=0.01)
    gone = StopServerDuringScoring(remote, server, at_call=2, restart_after_s=None)
    with pytest.raises(
        TeacherUnavailableError,
        match=r"gave no valid answer to POST /v1/completions after 3 "
        r"attempt\(s\) .* connection refused.*rlad serve-teacher",
    ):
        _train(char_tokenizer, tmp_path, gone)
    assert remote.stats["sequences"] == SEQUENCES_SCORED // 3  # the first step's batch only


# The config wiring (teacher_backend=...) in rlad/trainer.
def test_config_remote_backend(local_losses, server, char_tokenizer, tmp_path):
    config = {"teacher_backend": "remote", "teacher_url": server.url, "teacher_max_retries": 2}
    losses, trainer = _train(char_tokenizer, tmp_path, None, **config)
    assert isinstance(trainer.teacher, RemoteTeacher) and trainer.teacher.temperature == TEMPERATURE
    assert losses == pytest.approx(local_losses, rel=1e-5, abs=1e-7)


def test_config_offload_backend(local_losses, teacher_model, char_tokenizer, tmp_path):
    losses, trainer = _train(
        char_tokenizer, tmp_path, teacher_model, char_tokenizer, teacher_backend="offload"
    )
    assert isinstance(trainer.teacher, OffloadedTeacher)
    assert trainer.teacher.compute_device == trainer.accelerator.device
    assert losses == pytest.approx(local_losses, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"teacher_backend": "gpu"}, "teacher_backend='gpu' is not one of local, offload, remote"),
        ({"teacher_backend": "remote"}, "teacher_backend='remote' needs teacher_url"),
        ({"teacher_url": "http://127.0.0.1:8000"}, "teacher_url is only used with teacher_backend='remote'"),
        (
            {"teacher_backend": "remote", "teacher_url": "http://x:1", "teacher_timeout_s": 0},
            "teacher_timeout_s=0",
        ),
    ],
)
def test_config_backend_errors(config, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        RLADConfig(output_dir=str(tmp_path), **config)
