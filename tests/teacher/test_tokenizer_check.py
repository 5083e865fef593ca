"""The pre-flight tokenizer check names the first difference and accepts padded embeddings."""

import pytest

from rlad.teacher import TokenizerMismatchError, check_tokenizers_match
from rlad.toy.tokenizer import build_char_tokenizer


def test_identical_tokenizers_pass_even_with_larger_teacher_embedding(char_tokenizer):
    check_tokenizers_match(
        char_tokenizer, build_char_tokenizer(), teacher_embedding_rows=len(char_tokenizer) + 64
    )


def test_different_vocabulary_names_the_first_differing_token(char_tokenizer):
    other = build_char_tokenizer(alphabet="0123456789+-=ABC")
    with pytest.raises(
        TokenizerMismatchError, match=r"token '-' \(student id 14\) has id 15 in the teacher's"
    ):
        check_tokenizers_match(build_char_tokenizer(alphabet="0123456789-+=ABC"), other)
    with pytest.raises(TokenizerMismatchError, match="is missing from the teacher's vocabulary"):
        check_tokenizers_match(char_tokenizer, other)


def test_chat_template_difference_is_reported(char_tokenizer):
    other = build_char_tokenizer()
    other.chat_template = (
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
    )
    with pytest.raises(
        TokenizerMismatchError, match="chat templates render the probe conversation differently"
    ):
        check_tokenizers_match(char_tokenizer, other)


def test_too_small_teacher_embedding_is_reported(char_tokenizer):
    with pytest.raises(TokenizerMismatchError, match="output embedding has 10 rows"):
        check_tokenizers_match(char_tokenizer, build_char_tokenizer(), teacher_embedding_rows=10)
