"""Fine-tuning from an earlier run: ``model.init_from`` and ``model.freeze_backbone_epochs``.

    model: {init_from: runs/site_a, freeze_backbone_epochs: 2, ...}

``init_from`` takes a run directory (its first fold), a fold directory or one checkpoint, loaded with
``torch.load(weights_only=True)``. Every parameter whose name and shape match is copied (frontend,
backbone, hidden head layers). The head's class-indexed layers (those with one output row per class)
are re-initialised for the new class list and the rows of the classes both lists share, by name, are
copied: a model trained on one site starts another with what it knew of the species they have in common.
``freeze_backbone_epochs: N`` trains only the head for the first N epochs (backbone weights and its
BatchNorm statistics frozen), then everything.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from wildtag.config import ConfigError

log = logging.getLogger(__name__)


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint ``init_from`` means: a file, a fold's best (else last), or a run's first fold's."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ConfigError(f"model.init_from: no such run directory or checkpoint {path}")
    folds = sorted(path.glob("fold-*"), key=lambda p: int(p.name.split("-")[1]) if p.name[5:].isdigit() else 0)
    for fold_dir in folds or [path]:
        for name in ("best.ckpt", "last.ckpt"):
            if (fold_dir / "checkpoints" / name).is_file():
                return fold_dir / "checkpoints" / name
    raise ConfigError(f"model.init_from: {path} has no fold-K/checkpoints/best.ckpt or last.ckpt")


def _class_names(checkpoint: dict[str, Any], path: Path) -> list[str]:
    meta = checkpoint.get("wildtag") or {}
    for record in (meta.get("card"), meta.get("preprocessing")):
        if isinstance(record, str):
            record = json.loads(record)
        if isinstance(record, dict) and record.get("class_names"):
            return [str(c) for c in record["class_names"]]
    for card in (path.parent / "model.json", path.parent.parent / "model.json"):
        if card.is_file():
            return [str(c) for c in json.loads(card.read_text())["class_names"]]
    raise ConfigError(f"model.init_from: {path} records no class names: is it a wildtag checkpoint?")


def load_source_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], list[str], Path]:
    """``(model state dict, class names, checkpoint file)`` of a wildtag checkpoint, never unpickling code."""
    file = checkpoint_file(path)
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # an unsafe or damaged pickle: refused without running it
        raise ConfigError(f"model.init_from: {file} cannot be loaded safely ({type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''})") from None
    state = checkpoint.get("state_dict", checkpoint)
    weights = {k.removeprefix("model."): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    return weights, _class_names(checkpoint, file), file


def init_from(model: nn.Module, path: str | Path, class_names: list[str]) -> dict[str, int]:
    """Copy the weights of the wildtag checkpoint at ``path`` into ``model`` (see the module docstring).

    Returns counts: ``copied`` tensors, ``class_rows`` tensors remapped by class, ``kept_classes``.
    """
    source, source_classes, file = load_source_weights(path)
    target = model.state_dict()
    index = {name: i for i, name in enumerate(source_classes)}
    kept = [(new, index[name]) for new, name in enumerate(class_names) if name in index]
    copied = remapped = 0
    for key, value in target.items():
        if key not in source:
            continue
        old = source[key]
        if key.startswith("head.") and _class_indexed(value, old, len(class_names), len(source_classes)):
            if kept:
                new_rows, old_rows = (torch.tensor(x) for x in zip(*kept, strict=True))
                value[new_rows] = old[old_rows].to(value.dtype)
            remapped += 1
        elif old.shape == value.shape:
            value.copy_(old)
            copied += 1
    model.load_state_dict(target)
    if copied == 0:
        raise ConfigError(f"model.init_from: no weights of {file} fit this model: is it another architecture?")
    log.info("init_from %s: %d tensors copied, %d class-indexed head tensors remapped, %d of %d classes kept",
             file, copied, remapped, len(kept), len(class_names))
    return {"copied": copied, "class_rows": remapped, "kept_classes": len(kept)}


def _class_indexed(new: torch.Tensor, old: torch.Tensor, n_new: int, n_old: int) -> bool:
    """A head tensor with one row per class (a classifier's weight or bias), in both models."""
    return new.ndim >= 1 and old.ndim == new.ndim and new.shape[0] == n_new and old.shape[0] == n_old \
        and new.shape[1:] == old.shape[1:]


class FreezeBackbone(L.Callback):
    """Trains only what is not the backbone for the first ``epochs`` epochs (BatchNorm statistics too)."""

    def __init__(self, epochs: int):
        self.epochs = int(epochs)

    @staticmethod
    def _backbone(pl_module: L.LightningModule) -> nn.Module:
        return pl_module.model.backbone

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        frozen = trainer.current_epoch < self.epochs
        self._backbone(pl_module).requires_grad_(not frozen)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if trainer.current_epoch < self.epochs:  # validation puts the model back in train mode: re-freeze BN
            self._backbone(pl_module).eval()
