"""Shared fixtures: tiny local tokenizers and models (nothing is downloaded)."""

import os
import sys
import warnings

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore", category=FutureWarning)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for trainer_helpers and outside_reads

import outside_reads  # noqa: E402  (needs the path above)

# Every model in the suite is tiny: one thread avoids oversubscription on the 2-core machine (measured:
# the toy SFT loop ran ~10x faster per step with 1 thread than with 2 while other jobs were running).
torch.set_num_threads(1)


def pytest_configure(config):
    # Fail the session when any test or task opens a file outside the repository (issue 14).
    if not config.pluginmanager.is_registered(outside_reads):
        config.pluginmanager.register(outside_reads, "outside_reads")


@pytest.fixture(scope="session")
def char_tokenizer():
    from rlad.toy.tokenizer import build_char_tokenizer

    return build_char_tokenizer()


@pytest.fixture(scope="session")
def saved_pair(tmp_path_factory, char_tokenizer):
    """A tiny random student and teacher saved to disk (same tokenizer, different embedding padding)."""
    from rlad.toy.models import build_tiny_llama, save_model

    root = tmp_path_factory.mktemp("models")
    student = build_tiny_llama(char_tokenizer, hidden_size=32, num_layers=2, num_heads=2, seed=0)
    teacher = build_tiny_llama(
        char_tokenizer, hidden_size=48, num_layers=2, num_heads=2, seed=1, vocab_size=len(char_tokenizer) + 16
    )
    save_model(student, char_tokenizer, root / "student")
    save_model(teacher, char_tokenizer, root / "teacher")
    return root / "student", root / "teacher"
