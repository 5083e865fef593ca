"""The pre-flight tokenizer check against a remote teacher: full with `rlad serve-teacher`, spot-checked elsewhere."""

import pytest

from rlad.teacher import RemoteTeacher, RemoteTokenizer, TokenizerMismatchError, check_tokenizers_match
from rlad.teacher.serving.server import TeacherApp, TeacherServer
from rlad.toy.models import build_tiny_llama
from rlad.toy.tokenizer import build_char_tokenizer


def test_the_served_tokenizer_passes_the_check(server, char_tokenizer):
    teacher = RemoteTeacher(server.url)
    assert isinstance(teacher.tokenizer, RemoteTokenizer)
    assert teacher.tokenizer.get_vocab() == char_tokenizer.get_vocab()
    assert (
        teacher.tokenizer.eos_token_id == char_tokenizer.eos_token_id
        and teacher.tokenizer.eos_token == "<eos>"
    )
    check_tokenizers_match(char_tokenizer, teacher.tokenizer, teacher_embedding_rows=teacher.embedding_rows)
    assert teacher.embedding_rows == len(char_tokenizer) + 16  # the served model's output rows


def test_a_server_with_another_vocabulary_is_caught(char_tokenizer):
    other = build_char_tokenizer(alphabet="0123456789=+-ABCDEFGH")
    with TeacherServer(build_tiny_llama(other, hidden_size=16, num_layers=1, num_heads=2), other) as server:
        remote = RemoteTeacher(server.url).tokenizer
        with pytest.raises(TokenizerMismatchError, match="student and teacher tokenizers differ: token"):
            check_tokenizers_match(char_tokenizer, remote)
        with pytest.raises(TokenizerMismatchError):  # a caller's tokenizer must be the served one
            RemoteTeacher(server.url, tokenizer=char_tokenizer)


def test_the_chat_template_is_rendered_by_the_server(teacher_model, char_tokenizer):
    served = build_char_tokenizer()
    served.chat_template = (
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
    )
    with TeacherServer(teacher_model, served) as server:
        remote = RemoteTeacher(server.url).tokenizer
        rendered = remote.apply_chat_template([{"role": "user", "content": "1+1="}], tokenize=False)
        assert rendered == "<bos>[user]1+1="
        with pytest.raises(
            TokenizerMismatchError, match="chat templates render the probe conversation differently"
        ):
            check_tokenizers_match(char_tokenizer, remote)


def test_a_vllm_like_server_needs_the_tokenizer_and_is_spot_checked(scripted, char_tokenizer, teacher_model):
    server = scripted([], rlad_endpoints=False)
    with pytest.raises(ValueError, match=r"has no /rlad/tokenizer .* pass the teacher's tokenizer"):
        RemoteTeacher(server.url)
    teacher = RemoteTeacher(server.url, tokenizer=char_tokenizer)
    assert teacher.tokenizer is char_tokenizer and teacher.embedding_rows is None
    # vLLM scores prompts without temperature: a tempered teacher cannot be had from it.
    with pytest.raises(ValueError, match="temperature=0.7, but the server .* does not say that it applies"):
        RemoteTeacher(server.url, tokenizer=char_tokenizer, temperature=0.7)
    # The tokenizer passed must tokenize the probes as the server does.
    shifted = build_char_tokenizer(
        alphabet="9876543210+-*=,;:?!&|>()<" + "abcdefghijklmnopqrstuvwxyz" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ \n"
    )
    with pytest.raises(
        TokenizerMismatchError, match="tokenizes the probe text differently .* first difference at position 1"
    ):
        RemoteTeacher(server.url, tokenizer=shifted)


def test_a_served_tokenizer_without_chat_template(teacher_model):
    plain = build_char_tokenizer()
    plain.chat_template = None
    app = TeacherApp(teacher_model, plain)
    status, answer = app.handle(
        "POST", "/rlad/render_chat", b'{"messages": [{"role": "user", "content": "x"}]}'
    )
    assert status == 400 and "has no chat template" in answer["error"]["message"]
    with TeacherServer(teacher_model, plain) as server:
        assert RemoteTeacher(server.url).tokenizer.chat_template is None
