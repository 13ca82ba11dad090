"""Thread settings: torch and numpy/BLAS otherwise fight over the same few cores."""

from __future__ import annotations

import os

import torch


def configure_threads(data_workers: int = 0, threads: int | None = None) -> int:
    """Give torch the cores that data workers leave free and limit BLAS pools to one thread.

    Returns the number of torch intra-op threads set.
    """
    cores = os.cpu_count() or 1
    threads = threads or max(1, cores - data_workers)
    torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    return threads
