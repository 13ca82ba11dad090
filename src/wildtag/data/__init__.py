"""Training data: window samplers, target vectors, the Dataset and collate, cross-validation folds.

>>> from wildtag.data import create_sampler, WindowDataset, collate_windows, assign_folds
"""

from wildtag.data.box_crop import BoxCropSampler
from wildtag.data.clip_windows import FullClipSampler, RandomWindowSampler
from wildtag.data.dataset import WindowDataset, collate_windows
from wildtag.data.event_window import EventWindowSampler
from wildtag.data.folds import FOLD_STRATEGIES, RareClassWarning, assign_folds
from wildtag.data.items import WindowItem
from wildtag.data.samplers import SAMPLERS, WindowSampler, create_sampler, list_samplers
from wildtag.data.targets import clip_targets, clip_weights, event_targets

__all__ = [
    "FOLD_STRATEGIES",
    "SAMPLERS",
    "BoxCropSampler",
    "EventWindowSampler",
    "FullClipSampler",
    "RandomWindowSampler",
    "RareClassWarning",
    "WindowDataset",
    "WindowItem",
    "WindowSampler",
    "assign_folds",
    "clip_targets",
    "clip_weights",
    "collate_windows",
    "create_sampler",
    "event_targets",
    "list_samplers",
]
