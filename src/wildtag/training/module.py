"""The LightningModule: what to optimise. Data comes from :mod:`wildtag.training.datamodule`, the
Trainer decides how to run.

Validation scores windows, pools them per group (a recording for clip labels, the window itself for
boxes) with the inference aggregator, and logs the metrics of :mod:`wildtag.metrics` under ``valid/``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from wildtag.config import OptimizerConfig, ScheduleConfig
from wildtag.inference.tiles import tile_scores
from wildtag.metrics import evaluate
from wildtag.models.activation import activate
from wildtag.training.schedules import create_optimizer, create_scheduler


class TaggerModule(L.LightningModule):
    """Trains a :class:`~wildtag.models.Tagger` with a masked loss; validates per recording."""

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        *,
        optimizer: OptimizerConfig,
        schedule: ScheduleConfig,
        steps_per_epoch: int,
        epochs: int,
        activation: str = "sigmoid",
        valid_groups: np.ndarray | None = None,
        valid_targets: np.ndarray | None = None,
        aggregate: Callable[[np.ndarray], np.ndarray] | None = None,
        use_boxes: bool = False,
        mixer: Callable | None = None,
        tiles: dict[str, Any] | None = None,
        seed: int = 0,
        config: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.model, self.loss = model, loss
        self.optimizer_cfg, self.schedule_cfg = optimizer, schedule
        self.steps_per_epoch, self.epochs = max(1, steps_per_epoch), epochs
        self.activation = activation
        self.valid_groups, self.valid_targets = valid_groups, valid_targets
        self.aggregate = aggregate or (lambda scores: scores.max(axis=0))
        self.use_boxes = use_boxes
        self.mixer, self.tiles = mixer, tiles
        self.mix_generator = torch.Generator().manual_seed(seed)
        self.config = config or {}
        self._valid_scores: list[tuple[np.ndarray, np.ndarray]] = []
        self.last_valid_metrics: dict[str, Any] = {}

    def forward(self, wave: torch.Tensor, boxes: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.model(wave, boxes)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        boxes = batch["boxes"] if self.use_boxes else None
        spec = self.model.forward_frontend(batch["wave"], boxes)
        target, weight = batch["target"], batch["weight"]
        if self.mixer is not None:  # mixing sits between the spectrogram and the backbone
            spec, target, weight = self.mixer(spec, target, weight, self.mix_generator)
        logits = self.model.forward_head(self.model.forward_features(spec))["logits"]
        loss = self.loss(logits.float(), target, weight)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss became {loss.item()} at step {self.global_step}")
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(logits))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        boxes = batch["boxes"] if self.use_boxes else None
        logits = self.model(batch["wave"], boxes)["logits"]
        loss = self.loss(logits.float(), batch["target"], batch["weight"])
        self.log("valid/loss", loss, prog_bar=True, on_epoch=True, batch_size=len(logits))
        if self.tiles:  # score as predict will: tiles of several widths
            scores = tile_scores(self.model, batch["wave"], self.tiles["widths_frames"],
                                 half_shift=self.tiles.get("half_shift", False), activation=self.activation)
        else:
            scores = activate(logits.float(), self.activation)
        self._valid_scores.append((batch["index"].cpu().numpy(), scores.float().cpu().numpy()))

    def on_validation_epoch_start(self) -> None:
        self._valid_scores = []

    def on_validation_epoch_end(self) -> None:
        if not self._valid_scores or self.valid_groups is None or self.valid_targets is None:
            return
        scores = self.pooled_valid_scores()
        metrics = evaluate(self.valid_targets, scores)
        self.last_valid_metrics = metrics
        for key in ("lwlrap", "map_macro", "roc_auc_macro", "accuracy", "f1_macro"):
            value = metrics.get(key)
            if value is not None:
                self.log(f"valid/{key}", float(value), prog_bar=key in ("lwlrap", "accuracy"))

    def pooled_valid_scores(self) -> np.ndarray:
        """Validation scores pooled per group, in group order (groups are 0..G-1)."""
        index = np.concatenate([i for i, _ in self._valid_scores])
        window_scores = np.concatenate([s for _, s in self._valid_scores])
        groups = self.valid_groups[index]
        pooled = np.full((int(self.valid_groups.max()) + 1, window_scores.shape[1]), np.nan, dtype=np.float32)
        for group in np.unique(groups):
            pooled[group] = self.aggregate(window_scores[groups == group])
        return pooled

    def configure_optimizers(self) -> Any:
        optimizer = create_optimizer(self.model.parameters(), self.optimizer_cfg)
        total_steps = self.steps_per_epoch * self.epochs
        scheduler = create_scheduler(
            optimizer, self.schedule_cfg, self.optimizer_cfg.lr, total_steps, self.steps_per_epoch
        )
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # predict rebuilds the model from this, never from flags that could disagree (DESIGN §2).
        # Plain JSON-able data only, so that the checkpoint loads with torch.load(weights_only=True).
        checkpoint["wildtag"] = {"card": self.model.card.to_dict(), "config": self.config}
        checkpoint["wildtag_rng"] = self.rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # A resumed run draws the random numbers the uninterrupted run would have drawn next.
        if "wildtag_rng" in checkpoint:
            self.set_rng_state(checkpoint["wildtag_rng"])

    def rng_state(self) -> dict[str, Any]:
        """Every random-number state training draws from (mixing, torch, numpy, python), as tensors and
        plain data (loadable with ``weights_only=True``)."""
        kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (the global one, which libraries use)
        version, internal, gauss = random.getstate()
        return {"mix": self.mix_generator.get_state(), "torch": torch.get_rng_state(),
                "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
                "python": [version, list(internal), gauss]}

    def set_rng_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`rng_state` returned."""
        self.mix_generator.set_state(state["mix"])
        torch.set_rng_state(state["torch"])
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
