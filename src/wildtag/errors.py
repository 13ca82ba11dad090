"""The exceptions that mean 'bad input or config', which the CLI reports in one line."""

from __future__ import annotations

from wildtag.audio import AudioError
from wildtag.config import ConfigError
from wildtag.inference.loading import ModelLoadError
from wildtag.labels import LabelError
from wildtag.registry import UnknownNameError

USER_ERRORS: tuple[type[BaseException], ...] = (
    AudioError,
    LabelError,
    ConfigError,
    ModelLoadError,
    UnknownNameError,
    FileNotFoundError,
    ValueError,
)
