"""Tiny local models for running the whole pipeline on a laptop CPU in minutes.

- ``tokenizer``: a one-token-per-character tokenizer with ``<pad> <bos> <eos> <unk>`` and a chat template;
- ``models``: tiny Llama models (optionally with padded embedding matrices), saved for ``from_pretrained``;
- ``sft``: a fast supervised loop (completion-only loss, fresh problems every step) to make toy experts;
- ``evaluate``: batched generation and Mean@k / Pass@k / mixed-group accuracy checks;
- ``arith``: a small arithmetic task (``90-78-10=`` -> ``90-78=12,12-10=2;A:2``) and its checker;
- ``zoo``: ``get_toy_pair`` builds (or loads from a cache) a teacher that is clearly better than its student.
"""
