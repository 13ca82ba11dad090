"""wildtag: train and run sound taggers for wildlife and environmental audio.

The Python API (:mod:`wildtag.api`) loads on first use, so ``import wildtag`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what editors and type checkers see; at run time these load on first use
    from wildtag.api import Model, Run, evaluate, load_model, train
    from wildtag.config import load_config

_API = {"train", "load_model", "evaluate", "Model", "Run"}
__all__ = ["Model", "Run", "__version__", "evaluate", "load_config", "load_model", "train"]


def __getattr__(name: str) -> Any:
    if name == "load_config":
        from wildtag.config import load_config

        return load_config
    if name in _API:
        from wildtag import api

        return getattr(api, name)
    raise AttributeError(f"module 'wildtag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
