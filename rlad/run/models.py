"""Finding and loading models: hub names, local paths, ``toy:<task>/<role>`` tiny local models, and real
pretrained models shipped in packages (``smollm2-135m``, a ``.gguf`` path, or a packaged teacher such as
``smollm2-135m-sums``), converted once to a cached folder by :mod:`rlad.real`.

Every failure is a :class:`ModelLoadError` with one line that names the model, so the CLI can print
it without a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ModelLoadError(ValueError):
    """A model that cannot be loaded: a missing path, an unknown hub name offline, a bad toy spec."""


def resolve_model(spec: str) -> str:
    """A hub name or local path as given; ``toy:<task>/<role>`` builds (or reuses) a tiny local model;
    a packaged short name or ``.gguf`` path converts (or reuses) a cached ``from_pretrained`` folder.

    Real-model failures raise :class:`ModelLoadError` with one line (e.g. naming the missing extra).
    """
    if spec.startswith("toy:"):
        from rlad.toy.zoo import resolve_toy_model

        return str(resolve_toy_model(spec[len("toy:") :]))
    from rlad.real.gguf import RealModelError, is_real_spec
    from rlad.real.teacher import TEACHERS, resolve_teacher

    try:
        if spec in TEACHERS:
            return resolve_teacher(spec)
        if is_real_spec(spec):
            from rlad.real.gguf import resolve_real_model

            return resolve_real_model(spec)
    except RealModelError as err:
        raise ModelLoadError(str(err)) from err
    return spec


def looks_like_local_path(spec: str) -> bool:
    """A model spec that names a folder rather than a hub repository (``org/name`` has one slash).

    >>> looks_like_local_path("./runs/final"), looks_like_local_path("Qwen/Qwen2.5-0.5B")
    (True, False)
    >>> looks_like_local_path("runs/rlad/final")
    True
    """
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1 or Path(spec).exists()


def check_model_path(spec: str, what: str = "model") -> None:
    """Fail fast, before any work, on a model spec that names a folder that does not exist."""
    if not spec.startswith("toy:") and looks_like_local_path(spec) and not Path(spec).expanduser().exists():
        raise ModelLoadError(f"{what} path {spec!r} does not exist")


def load_model(spec: str, dtype: str = "auto") -> tuple[Any, Any, str]:
    """``(model, tokenizer, path)`` for a local path, a hub name, or a ``toy:<task>/<role>`` spec.

    The model is in eval mode, on the GPU when there is one. Failures raise :class:`ModelLoadError`
    with one line that names the model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_model_path(spec)
    try:
        path = resolve_model(spec)
    except ModelLoadError:
        raise
    except ModuleNotFoundError as err:
        raise ModelLoadError(f"cannot build toy model {spec!r}: {err}") from err
    except (KeyError, ValueError) as err:
        raise ModelLoadError(f"bad toy model spec {spec!r}: {_first_line(err)}") from err
    path = str(Path(path).expanduser()) if looks_like_local_path(path) else path
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"could not load model {spec!r}: {_first_line(err)}") from err
    if torch.cuda.is_available():
        model.to("cuda")
    return model.eval(), tokenizer, path


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
