"""Fixtures for the teacher-backend tests: a tiny teacher, a padded batch, a real and a scripted server."""

import pytest
import torch
from teacher_backends.backend_helpers import ScriptedServer  # tests/ is on sys.path (tests/conftest.py)

from rlad.teacher.serving.server import TeacherApp, TeacherServer
from rlad.toy.models import build_tiny_llama


@pytest.fixture(scope="session")
def teacher_model(char_tokenizer):
    """A tiny teacher with 16 padded embedding rows (ids the tokenizer never produces)."""
    return build_tiny_llama(
        char_tokenizer, hidden_size=48, num_layers=2, num_heads=2, seed=1, vocab_size=len(char_tokenizer) + 16
    )


@pytest.fixture(scope="session")
def padded_batch(char_tokenizer):
    """Left-padded prompts (B, P) and right-padded completions (B, T) of varied lengths, one row empty."""
    gen = torch.Generator().manual_seed(0)
    B, P, T = 6, 7, 6
    prompt_ids = torch.randint(4, len(char_tokenizer), (B, P), generator=gen)  # (B, P)
    prompt_mask = torch.ones(B, P, dtype=torch.long)  # (B, P)
    for b, pad in enumerate([0, 2, 3, 0, 6, 1]):
        prompt_mask[b, :pad] = 0
        prompt_ids[b, :pad] = char_tokenizer.pad_token_id
    completion_ids = torch.randint(4, len(char_tokenizer), (B, T), generator=gen)  # (B, T)
    completion_mask = torch.ones(B, T, dtype=torch.long)  # (B, T)
    for b, length in enumerate([6, 3, 0, 1, 5, 6]):
        completion_mask[b, length:] = 0
        completion_ids[b, length:] = char_tokenizer.pad_token_id
    return prompt_ids, prompt_mask, completion_ids, completion_mask


@pytest.fixture()
def server(teacher_model, char_tokenizer):
    """``rlad serve-teacher``'s server for the tiny teacher on a free port of 127.0.0.1."""
    with TeacherServer(teacher_model, char_tokenizer, port=0) as running:
        yield running


@pytest.fixture()
def scripted(teacher_model, char_tokenizer):
    """``scripted(script, rlad_endpoints=True)`` starts a :class:`ScriptedServer`; all are stopped afterwards."""
    app = TeacherApp(teacher_model, char_tokenizer)
    started = []

    def start(script, rlad_endpoints=True):
        started.append(ScriptedServer(app, script, rlad_endpoints))
        return started[-1]

    yield start
    for s in started:
        s.stop()
