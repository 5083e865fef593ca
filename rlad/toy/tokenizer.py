"""A character-level tokenizer for toy models: one token per character, built with ``tokenizers``.

Vocabulary: ``<pad> <bos> <eos> <unk>`` (ids 0..3), then the characters of the alphabet in order.
Pipeline (the same a real Llama tokenizer runs, minus the merges):

- pre-tokenizer: split the text into single characters (spaces and newlines included);
- model: ``WordLevel`` maps each character to its id, anything else to ``<unk>``;
- post-processor: prepend ``<bos>`` when ``add_special_tokens=True`` (like Llama); TRL tokenizes plain
  prompts with ``tokenizer(text=prompts)``, so plain prompts and chat prompts both start with ``<bos>``;
- decoder: ``Fuse`` concatenates the characters with no added spaces, so
  ``decode(encode(s), skip_special_tokens=True) == s`` (and without ``<bos>`` when encoding with
  ``add_special_tokens=False``).

The chat template adds no role markers: a conversation renders as ``<bos>`` followed by the message
contents, each assistant turn closed by ``<eos>``. So the chat prompt of ``[{"role": "user", "content":
"90-78-10="}]`` tokenizes to exactly the ids of the plain prompt ``"90-78-10="``, and a toy model
trained on plain ``(prompt, completion)`` pairs works unchanged with conversational datasets.

Save it next to a *Llama* model config: the tokenizer is saved as a generic ``TokenizersBackend``
(``tokenizer.json`` holds the whole pipeline), which ``AutoTokenizer`` loads as is. With
``model_type="qwen2"``, transformers 5 rebuilds a custom tokenizer as byte-level BPE and drops spaces.
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)

# Digits, the operators and punctuation of the toy tasks (arithmetic ``90-78=12,12-10=2;A:2``, compact
# Knights-and-Knaves with ``&|>()!`` and its chain scratchpad's ``/``), letters, space and newline. New
# characters go at the end, so the ids of the others never change.
DEFAULT_ALPHABET = (
    string.digits + "+-*=,;:?!&|>()<" + string.ascii_lowercase + string.ascii_uppercase + " \n" + "/"
)

# Contents concatenated after <bos>; assistant turns end with <eos>. ``add_generation_prompt`` adds nothing,
# because the model continues right after the user's text.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{% endfor %}"
)


def build_char_tokenizer(
    alphabet: str = DEFAULT_ALPHABET,
    *,
    add_bos: bool = True,
    padding_side: str = "left",
    model_max_length: int = 2048,
) -> PreTrainedTokenizerFast:
    """A one-token-per-character tokenizer over ``alphabet`` with ``<pad> <bos> <eos> <unk>``.

    ``padding_side`` defaults to ``"left"`` because generation (TRL's included) pads prompts on the left.
    ``add_bos`` controls whether ``tokenizer(text)`` prepends ``<bos>`` (as Llama tokenizers do).

    >>> tok = build_char_tokenizer()
    >>> ids = tok("12+3=")["input_ids"]
    >>> tok.convert_ids_to_tokens(ids)
    ['<bos>', '1', '2', '+', '3', '=']
    >>> tok.decode(ids, skip_special_tokens=True)
    '12+3='
    """
    if not alphabet:
        raise ValueError("alphabet must not be empty")
    duplicates = sorted({c for c in alphabet if alphabet.count(c) > 1})
    if duplicates:
        raise ValueError(f"alphabet has duplicate characters: {duplicates!r}")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")

    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *alphabet])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # "[\s\S]" is any single character, newline included ("." would skip newlines).
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    if add_bos:
        backend.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, vocab[BOS])]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        padding_side=padding_side,
        model_max_length=model_max_length,
        chat_template=CHAT_TEMPLATE,
    )
