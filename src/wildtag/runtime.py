"""Process settings for speed: threads (torch and numpy/BLAS otherwise fight over the same few cores),
OpenMP waiting and glibc's malloc. torch is imported inside the functions, so that
:func:`configure_scoring` can set what OpenMP reads when torch loads."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def configure_threads(data_workers: int = 0, threads: int | None = None) -> int:
    """Give torch the cores that data workers leave free and limit BLAS pools to one thread.

    Returns the number of torch intra-op threads set.
    """
    from threadpoolctl import threadpool_limits

    # BLAS only: a plain threadpool_limits(1) also sets torch's own OpenMP pool to one thread.
    threadpool_limits(1, user_api="blas")
    cores = os.cpu_count() or 1
    threads = threads or max(1, cores - data_workers)
    import torch

    torch.set_num_threads(threads)
    return threads


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of handing it back to the kernel at every free.

    A batch of 64 windows has activations of tens of MB each. glibc serves every block above 32 MB with
    its own ``mmap`` and unmaps it on free, so each batch page-faults its activations in afresh: about
    1.9 million faults and 5 s of kernel time per hour of audio, a third of the scoring time on 2 cores.
    With mmap off and trimming only above 1 GB, the heap is reused: 1.2-1.3x faster end to end for
    +30-80 MB peak memory (``benchmarks/inference/README.md``). Returns False where the C library is
    not glibc (macOS, Windows, musl), which then keeps its own behaviour.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30)) and bool(mallopt(_M_MMAP_MAX, 0))


def let_waiting_threads_sleep() -> bool:
    """Have torch's OpenMP threads sleep when they wait instead of spinning (``OMP_WAIT_POLICY=PASSIVE``).

    Beside decode workers on the same cores, a spinning thread takes the core a worker needs, and a
    worker that preempts one thread of a parallel region stalls the others: on 2 cores, scoring with one
    decode worker ran 1.15-1.4x faster with sleeping threads. OpenMP reads the setting once, when torch
    loads, so this returns False (and sets nothing) once torch is imported, or where the user chose a
    policy.
    """
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def configure_scoring(threads: int | None = None) -> int:
    """Process settings for scoring (predict, embed): every core for torch, sleeping waits, freed memory
    kept. Call it before torch is imported (see :func:`let_waiting_threads_sleep`).

    Unlike training, scoring does not subtract the decode workers: they decode and run the frontend far
    faster than the model scores, so they mostly wait, and on 2 cores torch with 2 threads beside one
    worker scored 1.2-1.3x faster than with the 1 thread left over (``benchmarks/inference/README.md``).
    ``threads`` sets torch's thread count instead. Returns the number of torch threads set.
    """
    let_waiting_threads_sleep()
    keep_freed_memory()
    return configure_threads(0, threads)
