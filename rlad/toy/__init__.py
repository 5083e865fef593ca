"""Tiny local models for running the whole pipeline on a laptop CPU in minutes.

- ``tokenizer``: a one-token-per-character tokenizer with ``<pad> <bos> <eos> <unk>`` and a chat template;
- ``models``: tiny Llama models (optionally with padded embedding matrices), saved for ``from_pretrained``;
- ``sft``: a fast supervised loop (completion-only loss, a budget in steps);
- ``pair``: THE builder of teacher/student pairs: one supervised run on a ``rlad.tasks`` task's verified
  references, the student an early checkpoint of it, the teacher its end;
- ``zoo``: named pair recipes (the demo's math pair, the benchmark's logic pair, a fast test pair),
  cached on disk and served as ``toy:<task>/<role>[@<profile>]`` model specs.
"""
