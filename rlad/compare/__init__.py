"""The comparison harness: every method run, evaluated and aggregated the same way.

- :mod:`rlad.compare.methods`: the one table of methods (what "grpo", "kdrl", "rlad", "sft" run);
- :mod:`rlad.compare.spec`: :class:`RunSpec`, one run as plain data, and its fingerprint;
- :mod:`rlad.compare.runs`: run one spec (train, evaluate, ``done.json``; resumable), in this process or
  as ``python -m rlad.compare.runs spec.json``;
- :mod:`rlad.compare.pool`: run specs as subprocesses, a few at a time, one thread each;
- :mod:`rlad.compare.results`: aggregation across seeds, tables, curves; :mod:`rlad.compare.plots`;
- presets: :mod:`rlad.compare.recipe` (``rlad compare``), :mod:`rlad.demo.run` (``rlad demo``) and
  ``benchmarks/run.py`` (the benchmark).

Only the light names are imported here, so ``rlad compare --help`` does not load torch.
"""

from rlad.compare.methods import METHODS, CompareError, parse_methods

__all__ = ["METHODS", "CompareError", "parse_methods"]
