"""Thread settings: torch gets the cores asked for, BLAS pools one thread each."""

import os

import numpy as np  # noqa: F401 - loads the BLAS that threadpoolctl must limit
import pytest
import torch
from threadpoolctl import threadpool_info

from wildtag.runtime import configure_scoring_threads, configure_threads


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_torch_keeps_the_threads_it_is_given_while_blas_is_limited_to_one():
    cores = os.cpu_count() or 1
    torch.set_num_threads(1)
    assert configure_threads(0) == cores and torch.get_num_threads() == cores
    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    assert configure_threads(cores + 5) == 1 and torch.get_num_threads() == 1
    assert configure_threads(0, threads=3) == 3 and torch.get_num_threads() == 3


def test_scoring_does_not_hand_cores_to_the_decode_workers():
    torch.set_num_threads(1)
    assert configure_scoring_threads() == (os.cpu_count() or 1) == torch.get_num_threads()
    assert configure_scoring_threads(1) == 1 == torch.get_num_threads()
