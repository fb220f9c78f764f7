"""Tests run on one intra-op thread: their tensors are tiny, and on a busy machine
torch's pool makes every small op wait for a second core (about 100 times slower on a
shared 2-core box). Each test gets the caller's setting back."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
