"""The experiment directory (DESIGN §4): a new folder per run, with everything needed to trust it later.

    runs/<name>/
      config.yaml  command  commit  environment  classes.json  metrics.json  errors.csv
      fold-K/checkpoints/{best,last}.ckpt  fold-K/oof.parquet  fold-K/logs/
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from wildtag.fileio import write_text_atomic


def new_run_dir(path: str | Path, *, overwrite: bool = False) -> Path:
    """Create the run directory ``path``: exactly that folder, never a renamed one. An existing, non-empty
    ``path`` is a FileExistsError unless ``overwrite`` (its contents are then removed)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{path} exists and is not empty; continue it with --resume {path}, "
                                  f"replace it with --overwrite, or choose another --out")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_failed_run_dir(path: Path) -> None:
    """After a run failed before training: remove its folder, unless it holds ``errors.csv`` (what the user
    must read), so that the same ``--out`` works next time."""
    if path.is_dir() and not (path / "errors.csv").exists() and not any(path.glob("fold-*/checkpoints/*.ckpt")):
        shutil.rmtree(path, ignore_errors=True)


def git_commit(cwd: Path | None = None) -> str:
    """``<hash>`` or ``<hash>-dirty`` of the checkout that runs this, or ``unknown`` outside git."""
    here = cwd or Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def environment() -> dict[str, Any]:
    """Versions and device, for the run's ``environment`` file."""
    import lightning
    import numpy
    import timm
    import torch

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "lightning": lightning.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_count": os.cpu_count(),
    }


def write_provenance(run_dir: Path, config_yaml: str, argv: list[str] | None = None) -> None:
    """Write ``config.yaml``, ``command``, ``commit`` and ``environment`` into the run directory."""
    write_text_atomic(run_dir / "config.yaml", config_yaml)
    write_text_atomic(run_dir / "command", " ".join(argv if argv is not None else sys.argv) + "\n")
    write_text_atomic(run_dir / "commit", git_commit() + "\n")
    write_text_atomic(run_dir / "environment", json.dumps(environment(), indent=2) + "\n")
