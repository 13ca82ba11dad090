"""Load trained models for inference from a run directory (all folds) or one checkpoint.

The architecture and inference defaults come from the model card stored in the checkpoint itself
(DESIGN §2), never from flags. Checkpoints load with ``torch.load(weights_only=True)``: one that would
run code while unpickling is refused (:class:`~wildtag.errors.ModelLoadError` naming the file).
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from wildtag.errors import ModelLoadError  # defined there, torch-free, for the CLI
from wildtag.features.base import shares_frames
from wildtag.inference.tiles import tile_scores
from wildtag.models import Tagger
from wildtag.models.activation import activate
from wildtag.models.card import ModelCard, card_differences, card_fields

# Card fields that may differ between the folds of one run: when, and by which code, each fold was trained
# (a resumed run trains its later folds later, perhaps after a commit). Every other field must agree.
PER_FOLD_FIELDS = ("provenance.created", "provenance.commit", "provenance.wildtag_version")


@dataclass
class Ensemble:
    """The fold models of one run, with the model card they share: equal but for :data:`PER_FOLD_FIELDS`,
    whose values are the first fold's."""

    models: list[nn.Module]
    card: ModelCard
    checkpoints: list[Path] = field(default_factory=list)

    @property
    def class_names(self) -> list[str]:
        return list(self.card.class_names)

    @property
    def sample_rate(self) -> int:
        return self.card.sample_rate

    @property
    def window_s(self) -> float:
        return self.card.window_s

    @property
    def activation(self) -> str:
        return self.card.activation

    def to(self, device: torch.device | str) -> Ensemble:
        self.models = [m.to(device) for m in self.models]
        return self

    @torch.no_grad()
    def scores(self, wave: torch.Tensor) -> torch.Tensor:
        """Fold-averaged probabilities for a batch of windows ``(B, N) -> (B, K)``.

        ``wave`` may instead be the models' shared frontend output ``(B, 1, F, T)`` before normalisation
        (:meth:`~wildtag.features.base.Frontend.scaled_windows`, see :meth:`stream_frontend`).
        """
        tiles = self.card.inference.tiles
        total = None
        for model in self.models:
            if wave.ndim == 4:
                spec = model.frontend.finish(wave)
                probs = activate(model.forward_head(model.forward_features(spec))["logits"].float(), self.activation)
            elif self.card.inference.class_boxes:
                probs = self._box_scores(model, wave)
            elif tiles:
                probs = tile_scores(model, wave, tiles["widths_frames"], half_shift=tiles.get("half_shift", False),
                                    activation=self.activation).float()
            else:
                probs = activate(model(wave)["logits"].float(), self.activation)
            total = probs if total is None else total + probs
        return total / len(self.models)

    def stream_frontend(self) -> nn.Module | None:
        """The frontend whose :meth:`~wildtag.features.base.Frontend.scaled_windows` every fold model shares
        (same class and settings: what differs between folds, a BatchNorm, comes after), or None where the
        windows must go to the models as samples (tiles, box crops, two-channel or embedding frontends)."""
        if self.card.inference.tiles or self.card.inference.class_boxes:
            return None
        first = self.models[0].frontend
        for model in self.models:
            frontend = model.frontend
            if (getattr(model, "box_crop", None) is not None or not shares_frames(frontend)
                    or type(frontend) is not type(first) or frontend.settings != first.settings
                    or frontend.sample_rate != first.sample_rate or frontend.n_bins != first.n_bins):
                return None
        return first

    def _box_scores(self, model: nn.Module, wave: torch.Tensor) -> torch.Tensor:
        """Per-class box-crop models (RFCx 2021 winner): class k is scored on its own frequency band over
        the first ``duration`` seconds of the window, so each class costs one forward pass."""
        boxes = self.card.inference.class_boxes
        columns = []
        for k, name in enumerate(self.class_names):
            box = wave.new_tensor(boxes[name]).expand(len(wave), 3)
            logits = model(wave, box)["logits"].float()
            columns.append(activate(logits, self.activation)[:, k])
        return torch.stack(columns, dim=1)


def find_checkpoints(path: str | Path, folds: list[int] | None = None) -> list[Path]:
    """``best.ckpt`` (else ``last.ckpt``) of each fold of a run directory, or the one checkpoint given."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ModelLoadError(f"{path}: no such run directory or checkpoint")
    fold_dirs = sorted(path.glob("fold-*"), key=lambda p: int(p.name.split("-")[1]))
    if folds is not None:
        fold_dirs = [d for d in fold_dirs if int(d.name.split("-")[1]) in folds]
    found = []
    for fold_dir in fold_dirs:
        for name in ("best.ckpt", "last.ckpt"):
            if (fold_dir / "checkpoints" / name).exists():
                found.append(fold_dir / "checkpoints" / name)
                break
    if not found:
        raise ModelLoadError(f"{path}: no fold-K/checkpoints/best.ckpt or last.ckpt in this run directory")
    return found


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded with ``weights_only=True`` (tensors and plain data, never code)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # weights_only refused something that is not plain data
        found = ", ".join(dict.fromkeys(re.findall(r"GLOBAL [\w.]+", str(error)))) or "not plain data"
        raise ModelLoadError(f"{path}: refused, it holds objects that could run code when loaded ({found}); "
                             f"wildtag loads only tensors and plain data") from None
    except Exception as error:  # torch raises many types for a damaged file
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"{path}: not a readable checkpoint ({first[:160]})") from None


def load_checkpoint_model(path: Path) -> tuple[nn.Module, ModelCard]:
    """One Tagger, rebuilt from the model card stored in its checkpoint."""
    state = read_checkpoint(path)
    meta = state.get("wildtag") if isinstance(state, dict) else None
    if not meta or "card" not in meta:
        raise ModelLoadError(f"{path}: not a wildtag checkpoint (no 'wildtag' model card)")
    try:
        card = ModelCard.from_dict(meta["card"])
    except ModelLoadError as error:
        raise ModelLoadError(f"{path}: {error}") from None
    model = Tagger.from_card(card)
    weights = {k.removeprefix("model."): v for k, v in state["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(weights)
    return model.eval(), card


def load_ensemble(path: str | Path, folds: list[int] | None = None) -> Ensemble:
    """All fold models of a run (or one checkpoint), checked to share their whole model card but for
    :data:`PER_FOLD_FIELDS`; a fold whose card differs is a ModelLoadError naming the fields."""
    checkpoints = find_checkpoints(path, folds)
    models, first = [], None
    for ckpt in checkpoints:
        model, card = load_checkpoint_model(ckpt)
        if first is None:
            first = card
        elif differ := card_differences(first, card, ignore=PER_FOLD_FIELDS):
            raise ModelLoadError(f"{ckpt}: its model card differs from {checkpoints[0]}'s in "
                                 f"{_describe(first, card, differ)}; these folds cannot be averaged")
        models.append(model)
    return Ensemble(models, first, checkpoints)


def _describe(first: ModelCard, other: ModelCard, fields: list[str], limit: int = 5) -> str:
    """``inference.hop_s (2.5 vs 1.0), ...``: the differing fields with both values, shortened."""
    a, b = card_fields(first), card_fields(other)
    shown = [f"{k} ({_short(a.get(k))} vs {_short(b.get(k))})" for k in fields[:limit]]
    more = f" and {len(fields) - limit} more" if len(fields) > limit else ""
    return ", ".join(shown) + more


def _short(value: object, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
