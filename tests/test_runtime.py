"""Process settings: torch gets the cores asked for, BLAS pools one thread each; glibc keeps freed memory;
OpenMP threads sleep when they wait, set only before torch loads."""

import os
import subprocess
import sys

import numpy as np  # noqa: F401 - loads the BLAS that threadpoolctl must limit
import pytest
import torch
from threadpoolctl import threadpool_info

from wildtag.runtime import configure_scoring, configure_threads


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
    assert configure_scoring() == (os.cpu_count() or 1) == torch.get_num_threads()
    assert configure_scoring(1) == 1 == torch.get_num_threads()


_FAULTS_OF_REPEATED_BATCHES = """
import resource
import numpy as np
from wildtag.runtime import keep_freed_memory

def faults_of_batches(n=20):
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        np.ones(5_000_000).sum()  # 40 MB, above glibc's largest mmap threshold
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

before = faults_of_batches()
applied = keep_freed_memory()
faults_of_batches(1)  # the heap grows once to hold a batch
print(applied, before, faults_of_batches())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_kept_freed_memory_stops_each_batch_faulting_its_pages_in_afresh():
    # A subprocess: the setting is process-wide and cannot be undone.
    result = subprocess.run([sys.executable, "-c", _FAULTS_OF_REPEATED_BATCHES], capture_output=True, text=True,
                            check=True)
    applied, before, after = result.stdout.split()
    assert applied == "True"
    assert int(after) * 5 < int(before)


def test_waiting_threads_are_let_sleep_only_before_torch_loads_and_unless_the_user_chose():
    check = ("import os, sys; from wildtag.runtime import let_waiting_threads_sleep as f; "
             "a = f(); import torch; print(a, os.environ.get('OMP_WAIT_POLICY'), f())")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, env=env)
    assert run.stdout.split() == ["True", "PASSIVE", "False"]
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True,
                         env={**env, "OMP_WAIT_POLICY": "ACTIVE"})
    assert run.stdout.split() == ["False", "ACTIVE", "False"]
