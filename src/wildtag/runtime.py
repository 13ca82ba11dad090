"""Thread settings: torch and numpy/BLAS otherwise fight over the same few cores."""

from __future__ import annotations

import os

import torch


def configure_threads(data_workers: int = 0, threads: int | None = None) -> int:
    """Give torch the cores that data workers leave free and limit BLAS pools to one thread.

    Returns the number of torch intra-op threads set.
    """
    from threadpoolctl import threadpool_limits

    # BLAS only: a plain threadpool_limits(1) also sets torch's own OpenMP pool to one thread.
    threadpool_limits(1, user_api="blas")
    cores = os.cpu_count() or 1
    threads = threads or max(1, cores - data_workers)
    torch.set_num_threads(threads)
    return threads


def configure_scoring_threads(threads: int | None = None) -> int:
    """Thread settings for scoring (predict, embed): torch gets every core unless ``threads`` is given.

    Unlike training, scoring does not subtract the decode workers: they decode and run the frontend far
    faster than the model scores, so they mostly wait, and on 2 cores torch with 2 threads beside one
    worker scored 1.2-1.5x faster than with the 1 thread left over (``benchmarks/inference/README.md``).
    """
    return configure_threads(0, threads)
