"""Toy tests run their tiny models on one intra-op thread.

The models here are so small that a second OpenMP thread gains little, and on a busy machine (other test
processes on a 2-core box) two spinning OpenMP threads per process made the fast zoo build 20x slower
(226 s instead of 11 s). The setting is restored after each test module, so other suites keep the default.
"""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
