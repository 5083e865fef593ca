"""``build_teacher(kind, **options)``: one of the teacher backends, by name.

* ``local``: the weights on the training device (:class:`~rlad.teacher.local.LocalTeacher`); options
  model, tokenizer, device, temperature, batch_size.
* ``offload``: the weights on ``offload_device`` (CPU), scored there or moved in for each call
  (:class:`~rlad.teacher.offload.OffloadedTeacher`); options model, tokenizer, compute_device,
  offload_device, temperature, batch_size.
* ``remote``: the weights in another process, reached over HTTP
  (:class:`~rlad.teacher.serving.client.RemoteTeacher`); options url, tokenizer, model, temperature,
  batch_size, max_concurrency, timeout_s, max_retries, backoff_s, max_backoff_s, api_key (default:
  ``$RLAD_TEACHER_API_KEY``; ``rlad serve-teacher --api-key`` wants it).

An option a backend does not take is an error naming the options it does take, so a setting can
never be silently ignored. All three return the same log-probs for the same model (to float rounding).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from rlad.registry import Registry
from rlad.teacher.base import TeacherScorer
from rlad.teacher.local import LocalTeacher
from rlad.teacher.offload import OffloadedTeacher
from rlad.teacher.serving.client import RemoteTeacher

BACKENDS: Registry[Callable[..., TeacherScorer]] = Registry("teacher backend")
BACKENDS.register("local")(LocalTeacher)
BACKENDS.register("offload")(OffloadedTeacher)
BACKENDS.register("remote")(RemoteTeacher)


def build_teacher(kind: str, **options: Any) -> TeacherScorer:
    """Construct the ``kind`` backend ("local", "offload" or "remote") from keyword ``options``.

    >>> build_teacher("remote", url="http://127.0.0.1:1", device="cpu")
    Traceback (most recent call last):
    ...
    TypeError: teacher backend 'remote' does not take device; it takes: api_key, backoff_s, batch_size, \
max_backoff_s, max_concurrency, max_retries, model, temperature, timeout_s, tokenizer, url
    """
    backend = BACKENDS.get(kind)
    accepted = [name for name in inspect.signature(backend).parameters if name != "self"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"teacher backend {kind!r} does not take {', '.join(unknown)}; it takes: {', '.join(sorted(accepted))}"
        )
    return backend(**options)
