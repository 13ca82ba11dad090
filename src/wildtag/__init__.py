"""wildtag: train and run sound taggers for wildlife and environmental audio.

The Python API (:mod:`wildtag.api`) loads on first use, so ``import wildtag`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {"train", "load_model", "evaluate", "Model", "Run"}
__all__ = ["__version__", "load_config", *sorted(_API)]


def __getattr__(name: str) -> Any:
    if name == "load_config":
        from wildtag.config import load_config

        return load_config
    if name in _API:
        from wildtag import api

        return getattr(api, name)
    raise AttributeError(f"module 'wildtag' has no attribute {name!r}")
