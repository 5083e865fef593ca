"""Pre-flight check that a teacher can score the student's tokens (docs/method.md section 1: one shared tokenizer).

TRRD compares pi_S(y_t) with pi_T(y_t) token by token, so token id k must mean the same string for
both models. We check, before any training:

1. every token the student's tokenizer can produce has the same id in the teacher's vocabulary;
2. the special tokens the trainer relies on (eos, pad, bos) have the same ids;
3. both chat templates render a probe conversation identically (or neither has one);
4. the teacher's output embedding has a row for every student token id.

Embedding matrices padded to different sizes (Qwen3: 151936 vs 152064 rows) pass: only the ids the
tokenizers actually use are compared.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

PROBE_CONVERSATION = [
    {"role": "system", "content": "You are a careful reasoner."},
    {"role": "user", "content": "Is 17 prime? Answer in <answer></answer> tags."},
]


class TokenizerMismatchError(ValueError):
    """The teacher cannot score the student's tokens; the message names the first difference."""


def _render(tokenizer: PreTrainedTokenizerBase) -> str | None:
    if not getattr(tokenizer, "chat_template", None):
        return None
    return tokenizer.apply_chat_template(PROBE_CONVERSATION, tokenize=False, add_generation_prompt=True)


def check_tokenizers_match(
    student: PreTrainedTokenizerBase,
    teacher: PreTrainedTokenizerBase,
    teacher_embedding_rows: int | None = None,
) -> None:
    """Raise :class:`TokenizerMismatchError` naming the first disagreement; return None when compatible."""
    student_vocab = student.get_vocab()
    teacher_vocab = teacher.get_vocab()
    for token, sid in sorted(student_vocab.items(), key=lambda item: item[1]):
        tid = teacher_vocab.get(token)
        if tid != sid:
            where = (
                "is missing from the teacher's vocabulary"
                if tid is None
                else f"has id {tid} in the teacher's"
            )
            raise TokenizerMismatchError(
                f"student and teacher tokenizers differ: token {token!r} (student id {sid}) {where}; "
                "TRRD needs the same tokenizer for both models"
            )
    for name in ("eos_token_id", "pad_token_id", "bos_token_id"):
        s, t = getattr(student, name, None), getattr(teacher, name, None)
        if s != t:
            raise TokenizerMismatchError(f"special token {name} differs: student {s}, teacher {t}")
    student_chat, teacher_chat = _render(student), _render(teacher)
    if student_chat != teacher_chat:
        raise TokenizerMismatchError(
            "chat templates render the probe conversation differently:\n"
            f"  student: {student_chat!r}\n  teacher: {teacher_chat!r}"
        )
    if teacher_embedding_rows is not None:
        largest = max(student_vocab.values())
        if largest >= teacher_embedding_rows:
            raise TokenizerMismatchError(
                f"the teacher's output embedding has {teacher_embedding_rows} rows but the student can emit "
                f"token id {largest}"
            )
