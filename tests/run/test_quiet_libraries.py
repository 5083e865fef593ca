"""``quiet_libraries``: the default (non-verbose) runs keep library chatter off the terminal."""

from __future__ import annotations

import warnings

from rlad.run.callbacks import quiet_libraries
from rlad.toy.models import build_tiny_llama


def test_the_deprecated_checkpointing_alias_peft_reads_is_silenced(char_tokenizer):
    model = build_tiny_llama(char_tokenizer, hidden_size=16, num_layers=1, num_heads=2, seed=0)
    with warnings.catch_warnings(record=True) as before:
        warnings.simplefilter("always")
        assert model.is_gradient_checkpointing is False  # what peft's save_pretrained reads
    assert any("is_gradient_checkpointing" in str(w.message) for w in before)  # transformers still warns
    with warnings.catch_warnings(record=True) as after:
        warnings.simplefilter("always")
        quiet_libraries()
        assert model.is_gradient_checkpointing is False
        warnings.warn("an unrelated FutureWarning", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in after] == ["an unrelated FutureWarning"]
