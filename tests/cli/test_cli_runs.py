"""Nothing lost, nothing mixed (issue 14 section 4), with real tiny training runs through ``rlad train``:
a used output folder, a save killed half-way, and a remote teacher that goes away for good."""

from __future__ import annotations

import functools
import json

import pytest
from transformers import TrainerCallback

from rlad.run.folder import checkpoint_problem, checkpoints

pytestmark = pytest.mark.filterwarnings("ignore:.*pin_memory.*")


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _loss_steps(run) -> list[int]:
    return [r["step"] for r in _records(run / "metrics.jsonl") if "loss" in r]


def test_a_used_output_folder_is_refused_then_started_over_when_asked(rlad_cli, recipe_file, tmp_path):
    run = tmp_path / "run"
    path = recipe_file(max_steps=3, save_steps=2)
    assert rlad_cli("train", path)[0] == 0
    assert [s for s, _ in checkpoints(run)] == [2, 3]

    code, _, err = rlad_cli("train", path, "max_steps=2")  # again, without --resume
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"output_dir '{run}' already holds a run (checkpoint-2, checkpoint-3, final, metrics.jsonl)" in err
    assert "--resume" in err and "overwrite_output_dir=true" in err
    assert _loss_steps(run) == [1, 2, 3]  # refused before touching anything

    code, _, err = rlad_cli("train", path, "max_steps=2", "overwrite_output_dir=true")
    assert code == 0, err
    assert [s for s, _ in checkpoints(run)] == [2]  # the old run's checkpoint-3 is gone
    assert _loss_steps(run) == [1, 2]  # a fresh log, not appended to the old one
    state = json.loads((run / "final" / "config.json").read_text())
    assert state  # the new final model was written


def test_resume_skips_a_half_written_checkpoint_and_rewinds_the_metrics(rlad_cli, recipe_file, tmp_path):
    run = tmp_path / "run"
    path = recipe_file(max_steps=3, save_steps=2)
    assert rlad_cli("train", path)[0] == 0
    weights = run / "checkpoint-3" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # the process was killed while saving step 3

    with pytest.warns(UserWarning, match=r"checkpoint-3 is incomplete \(model.safetensors is truncated"):
        code, out, err = rlad_cli("train", path, "max_steps=4", "--resume")
    assert code == 0, err
    assert "Traceback" not in err
    assert _loss_steps(run) == [1, 2, 3, 4]  # steps 3.. logged once, by the resumed run
    evals = [r["step"] for r in _records(run / "metrics.jsonl") if "eval/mean_at_k" in r]
    assert evals == [2, 4]  # the old end-of-run evaluation at step 3 went with its step
    assert [s for s, _ in checkpoints(run)] == [2, 4] or [s for s, _ in checkpoints(run)] == [2, 3, 4]
    assert checkpoint_problem(run / "checkpoint-4") is None
    assert json.loads((run / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4


class StopServerAfterStep(TrainerCallback):
    """Stops the teacher server when training step ``step`` ends: from then on it is gone for good."""

    def __init__(self, server, step: int) -> None:
        self.server, self.step = server, step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            self.server.stop()


def test_a_remote_teacher_gone_for_good_saves_a_checkpoint(
    rlad_cli, recipe_file, tiny_models, tmp_path, monkeypatch
):
    from rlad.run import runner
    from rlad.run.models import load_model
    from rlad.teacher.serving.server import TeacherServer

    model, tokenizer, _ = load_model(str(tiny_models[1]))
    server = TeacherServer(model, tokenizer, port=0).start()
    url = server.url
    run = tmp_path / "run"
    path = recipe_file(
        max_steps=5,
        save_steps=2,
        teacher_backend="remote",
        teacher_url=url,
        teacher_max_retries=0,
        teacher_timeout_s=10.0,
    )
    original = runner.train_recipe
    monkeypatch.setattr(
        runner, "train_recipe", functools.partial(original, extra_callbacks=[StopServerAfterStep(server, 3)])
    )
    try:
        code, out, err = rlad_cli("train", path)
    finally:
        server.stop()
    assert code == 1, err
    lines = [line for line in err.splitlines() if line.startswith("rlad")]  # the rest: the progress bar
    assert len(lines) == 1 and err.endswith(lines[0] + "\n") and "Traceback" not in err, err
    assert lines[0].startswith(
        f"rlad train: stopped: the remote teacher at {url} stopped answering at step 4"
    )
    assert f"saved {run / 'checkpoint-3'} (step 3)" in lines[0] and "--resume" in lines[0]
    assert [s for s, _ in checkpoints(run)] == [2, 3]  # checkpoint-3: written on the way out
    assert checkpoint_problem(run / "checkpoint-3") is None
    assert json.loads((run / "checkpoint-3" / "trainer_state.json").read_text())["global_step"] == 3
    assert _loss_steps(run) == [1, 2, 3]

    monkeypatch.setattr(runner, "train_recipe", original)
    with TeacherServer(model, tokenizer, port=0) as back:  # the teacher is back, at another address
        code, _, err = rlad_cli("train", path, f"teacher_url={back.url}", "max_steps=4", "--resume")
    assert code == 0, err
    assert _loss_steps(run) == [1, 2, 3, 4]  # continued from step 3: nothing lost, nothing twice
