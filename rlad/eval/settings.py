"""How a model is evaluated: one record that every rlad caller of :func:`rlad.eval.evaluate` passes.

The final evaluations of ``rlad compare``, the demo and the benchmark, and the periodic validation during
training, differ only in these numbers; keeping them in one typed record (stored next to every result)
is what makes two tables comparable, and a changed setting visible in a run's fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalSettings:
    """Sampling settings of one evaluation. The defaults are the paper's protocol (temperature 0.6,
    top-p 0.95) with a smaller k.

    ``batch_size`` is part of the settings, not a performance knob: :class:`~rlad.eval.HFBackend` pads
    each batch, so a different batch size draws different samples for the same seed. The values are
    checked where they are used (``evaluate``, the backend), with one-line errors.
    """

    k: int = 8  # Mean@k / Pass@k
    n: int | None = None  # samples per problem (None: k)
    temperature: float = 0.6
    top_p: float = 0.95
    seed: int = 0  # sampling seed, the same for every model compared
    max_new_tokens: int = 512
    batch_size: int = 64  # generated sequences per forward batch
    greedy: bool = False  # also decode one greedy completion per problem
