"""The exceptions that mean 'bad input or config', which the CLI reports in one line.

Anything else that reaches the CLI is a bug in wildtag: it shows its traceback and asks to report it.
This module imports no torch, so the CLI can name an error without loading a model stack.
"""

from __future__ import annotations

import sys

from wildtag.audio.errors import AudioError
from wildtag.config import ConfigError
from wildtag.labels.errors import LabelError
from wildtag.registry import UnknownNameError


class ModelLoadError(ValueError):
    """A run directory or checkpoint that cannot be used for inference; the message names it."""


class WeightsFileError(ValueError):
    """A pretrained-weights file that cannot be read or does not fit its backbone; one line naming the file."""


class CommandLineError(ValueError):
    """Options of one command that contradict each other or are missing (``--top-k`` without topk_mean)."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    AudioError,
    LabelError,
    ConfigError,
    ModelLoadError,
    WeightsFileError,
    UnknownNameError,
    CommandLineError,
    FileNotFoundError,
    FileExistsError,
)
"""Errors caused by the user's input; not bare ``ValueError``, which would hide wildtag's own bugs."""


def issue_tracker() -> str:
    """Where to report a bug: the package's ``Issues`` URL when its metadata has one."""
    from importlib import metadata

    try:
        urls = metadata.metadata("wildtag").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("issues", "bug tracker", "tracker"):
            return url.strip()
    return "the wildtag issue tracker"


def report_bug() -> None:
    """Tell the user that the traceback that follows is a bug in wildtag, not their mistake."""
    from wildtag import __version__

    sys.stderr.write(
        f"internal error in wildtag {__version__}: this is a bug, not a problem with your input. "
        f"Please report it at {issue_tracker()} with the command and the traceback below.\n"
    )
    sys.stderr.flush()
