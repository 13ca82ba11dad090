"""Atomic file writes: a reader sees the old file or the complete new one, never a half-written file.

    >>> write_text_atomic(Path("out/summary.json"), json.dumps(summary))
    >>> with atomic_path(Path("out/windows.parquet")) as tmp:
    ...     frame.to_parquet(tmp)

The temporary file sits beside the target (same file system, so ``os.replace`` is atomic) and is named
``.<name>.partial-<pid>-<random>`` so that concurrent writers (processes or threads) never share one.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only in annotations
    import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) so that ``path`` only ever holds a complete file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` so that ``path`` only ever holds a complete file."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike[str], **kwargs) -> Path:
    """``frame.to_csv(path, index=False)``, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, **kwargs)
    return Path(path)


def write_parquet_atomic(frame: pd.DataFrame, path: str | os.PathLike[str], **kwargs) -> Path:
    """``frame.to_parquet(path, index=False)``, atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False, **kwargs)
    return Path(path)
