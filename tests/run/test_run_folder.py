"""Output folders: a used one is refused or cleaned, broken checkpoints are skipped, metrics rewound,
reports written atomically. Folders built by hand; no training."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
from safetensors.torch import save_file

from rlad.files import check_model_folder, check_writable_dir, write_json_atomic, write_text_atomic
from rlad.run.folder import (
    checkpoint_problem,
    checkpoints,
    latest_complete_checkpoint,
    prepare_fresh,
    previous_run,
    rewind_metrics,
)
from rlad.run.recipes import RecipeError


def _checkpoint(root, step: int):
    """A checkpoint folder with the files a Trainer save writes (tiny tensors)."""
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32)}, folder / "model.safetensors")
    torch.save({"state": {0: torch.ones(8)}}, folder / "optimizer.pt")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def _truncate(path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def test_complete_checkpoint_has_no_problem(tmp_path):
    assert checkpoint_problem(_checkpoint(tmp_path, 3)) is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: _truncate(f / "model.safetensors", 100), "model.safetensors is truncated"),
        (lambda f: _truncate(f / "model.safetensors", 4), "model.safetensors is truncated (4 bytes)"),
        (lambda f: (f / "trainer_state.json").unlink(), "trainer_state.json is missing"),
        (
            lambda f: (f / "trainer_state.json").write_text('{"global_st'),
            "trainer_state.json is not valid JSON",
        ),
        (lambda f: (f / "model.safetensors").unlink(), "no model weights"),
        (lambda f: _truncate(f / "optimizer.pt", 50), "optimizer.pt is truncated"),
    ],
)
def test_half_written_checkpoints_are_recognised(tmp_path, damage, reason):
    folder = _checkpoint(tmp_path, 4)
    damage(folder)
    assert reason in checkpoint_problem(folder)


def test_resume_falls_back_to_the_newest_complete_checkpoint(tmp_path):
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4)
    _truncate(_checkpoint(tmp_path, 6) / "model.safetensors", 200)
    (_checkpoint(tmp_path, 10) / "trainer_state.json").unlink()  # 10 sorts after 6 numerically, not by name
    with pytest.warns(UserWarning) as caught:
        step, folder = latest_complete_checkpoint(tmp_path)
    assert (step, folder.name) == (4, "checkpoint-4")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2 and "checkpoint-10 is incomplete" in messages[0]
    assert "checkpoint-6 is incomplete (model.safetensors is truncated" in messages[1]
    assert [s for s, _ in checkpoints(tmp_path)] == [2, 4]  # the broken ones are out of the way
    assert (tmp_path / "incomplete-checkpoint-6" / "model.safetensors").is_file()


def test_resume_without_any_complete_checkpoint(tmp_path):
    with pytest.raises(RecipeError, match="no checkpoint-\\* folder"):
        latest_complete_checkpoint(tmp_path)
    (_checkpoint(tmp_path, 1) / "trainer_state.json").unlink()
    with pytest.warns(UserWarning), pytest.raises(RecipeError, match="no complete checkpoint"):
        latest_complete_checkpoint(tmp_path)


def test_a_used_folder_is_refused_then_cleaned_only_when_asked(tmp_path):
    assert prepare_fresh(tmp_path / "new", overwrite=False) == []
    _checkpoint(tmp_path, 2)
    (tmp_path / "final").mkdir()
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n')
    (tmp_path / "notes.txt").write_text("mine")
    assert previous_run(tmp_path) == ["checkpoint-2", "final", "metrics.jsonl"]
    with pytest.raises(RecipeError, match="already holds a run \\(checkpoint-2, final, metrics.jsonl\\)"):
        prepare_fresh(tmp_path, overwrite=False)
    assert (tmp_path / "checkpoint-2").is_dir()  # refusing deletes nothing
    removed = prepare_fresh(tmp_path, overwrite=True)
    assert removed == ["checkpoint-2", "final", "metrics.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # only what a run writes goes


def test_an_empty_metrics_file_is_not_a_run(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("")
    assert previous_run(tmp_path) == []


def test_rewind_metrics_keeps_steps_up_to_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [{"step": 0, "sft/kept": 3}, {"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.9}]
    records += [{"step": 2, "eval/mean_at_k": 0.5}, {"step": 3, "loss": 0.8}, {"step": 4, "loss": 0.7}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"step": 5, "lo')  # torn last line
    assert rewind_metrics(path, 2) == 3
    assert [json.loads(line) for line in path.read_text().splitlines()] == records[:4]
    assert rewind_metrics(path, 2) == 0  # nothing more to cut
    assert rewind_metrics(tmp_path / "absent.jsonl", 2) == 0


def test_atomic_writes_replace_whole_files_and_leave_no_temporaries(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "eval.json"
    write_json_atomic(target, {"a": 1, "path": tmp_path})  # non-JSON values as strings
    assert json.loads(target.read_text()) == {"a": 1, "path": str(tmp_path)}
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(target, "half")
    monkeypatch.undo()
    assert json.loads(target.read_text())["a"] == 1  # the old file is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["eval.json"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_check_writable_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        check_writable_dir(tmp_path / "file", "--out")
    with pytest.raises(OSError, match="--out '.*file/sub' is not writable: Not a directory$"):
        check_writable_dir(tmp_path / "file" / "sub", "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_new_nested_folder_is_proven_writable_and_not_left_behind(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    assert check_writable_dir(target) == target
    assert list(tmp_path.iterdir()) == []  # a/b/c, a/b and a all removed again, the probe file too


def test_an_existing_folder_is_kept_with_its_files(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    check_writable_dir(tmp_path / "out")
    check_writable_dir(tmp_path / "empty")
    check_writable_dir(tmp_path / "out" / "new")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
    assert list((tmp_path / "empty").iterdir()) == []  # existed before: kept though empty


def _refuse_mkdir_under(monkeypatch, parent) -> None:
    """What the kernel does in a read-only folder for an ordinary user; root ignores the mode bits,
    so the refusal is also simulated (these tests run as root in CI)."""
    real_mkdir = os.mkdir

    def mkdir(path, mode=0o777, **kwargs):
        if os.path.dirname(os.fspath(path)) == str(parent):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_mkdir(path, mode, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)


def test_an_unwritable_parent_is_one_line_naming_the_folder(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    _refuse_mkdir_under(monkeypatch, locked)
    try:
        with pytest.raises(OSError) as caught:
            check_writable_dir(locked / "run" / "x", "--out")
    finally:
        locked.chmod(0o700)
    assert str(caught.value) == f"--out '{locked / 'run' / 'x'}' is not writable: Permission denied"
    assert list(locked.iterdir()) == []


def test_a_folder_created_before_a_failing_probe_is_removed(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("rlad.files.tempfile.mkstemp", refuse)
    with pytest.raises(OSError, match=r"^output_dir '.*new/deeper' is not writable: Permission denied$"):
        check_writable_dir(tmp_path / "new" / "deeper", "output_dir")
    assert list(tmp_path.iterdir()) == []


def test_a_model_folder_without_config_points_at_the_run_final(tmp_path):
    check_model_folder("org/name")  # a hub name: not a folder, not checked
    (tmp_path / "final").mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no config.json \(not a saved model\)$"):
        check_model_folder(str(tmp_path))
    (tmp_path / "final" / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=f"did you mean '{tmp_path / 'final'}'"):
        check_model_folder(str(tmp_path), "--teacher model")
    check_model_folder(str(tmp_path / "final"))
