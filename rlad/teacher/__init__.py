"""Teachers: anything that returns the log-probs of given completion tokens (see :mod:`rlad.teacher.base`)."""

from rlad.teacher.base import TeacherScorer
from rlad.teacher.factory import BACKENDS, build_teacher
from rlad.teacher.local import LocalTeacher, TeacherLoadError, load_teacher_model, load_teacher_tokenizer
from rlad.teacher.logprobs import naive_sampled_token_logprobs, sampled_token_logprobs
from rlad.teacher.offload import OffloadedTeacher
from rlad.teacher.serving.client import (
    RemoteTeacher,
    RemoteTokenizer,
    TeacherRequestError,
    TeacherUnavailableError,
)
from rlad.teacher.tokenizer_check import TokenizerMismatchError, check_tokenizers_match

__all__ = [
    "BACKENDS",
    "LocalTeacher",
    "OffloadedTeacher",
    "RemoteTeacher",
    "RemoteTokenizer",
    "TeacherRequestError",
    "TeacherUnavailableError",
    "build_teacher",
    "TeacherLoadError",
    "TeacherScorer",
    "TokenizerMismatchError",
    "check_tokenizers_match",
    "load_teacher_model",
    "load_teacher_tokenizer",
    "naive_sampled_token_logprobs",
    "sampled_token_logprobs",
]
