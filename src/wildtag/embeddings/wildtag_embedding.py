"""The penultimate layer of a trained wildtag model as an embedding: its backbone's feature map, pooled.

    frontend: {name: wildtag_embedding, run: runs/site_a, fold: 0}

The vector is what the run's head sees before its last layer: the backbone's feature map averaged over
frequency and time (``pool: avg``), or its maximum (``max``), or their mean (``avgmax``). One fold's model
is used (fold models are trained apart and do not share an embedding space). The run's own model is not
part of this frontend's weights: it is read from ``run`` whenever the frontend is built, frozen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from wildtag.config import ConfigError
from wildtag.embeddings.base import EmbeddingFrontend
from wildtag.features.base import FRONTENDS

POOLS = ("avg", "max", "avgmax")


def _pool(features: torch.Tensor, pool: str) -> torch.Tensor:
    if pool == "avg":
        return features.mean(dim=(2, 3))
    if pool == "max":
        return features.amax(dim=(2, 3))
    return 0.5 * (features.mean(dim=(2, 3)) + features.amax(dim=(2, 3)))


@FRONTENDS.register("wildtag_embedding")
class WildtagEmbedding(EmbeddingFrontend):
    """Pooled backbone features of one fold model of a wildtag run (see the module docstring)."""

    def __init__(self, run: str, sample_rate: int | None = None, fold: int | None = None, pool: str = "avg",
                 batch_size: int = 32):
        from wildtag.inference.loading import find_checkpoints, load_checkpoint_model

        if pool not in POOLS:
            raise ConfigError(f"wildtag_embedding pool={pool!r} is not one of {', '.join(POOLS)}")
        checkpoints = find_checkpoints(Path(run), None if fold is None else [int(fold)])
        model, info = load_checkpoint_model(checkpoints[0])
        card = getattr(model, "card", None)
        model_rate = int(card.sample_rate if card is not None else info["sample_rate"])
        window_s = float(card.window_s if card is not None else info["window_s"])
        sample_rate = model_rate if sample_rate is None else int(sample_rate)
        if sample_rate != model_rate:
            raise ConfigError(f"wildtag_embedding: {run} was trained at {model_rate} Hz; "
                              f"set audio.sample_rate: {model_rate} (got {sample_rate})")
        with torch.no_grad():
            probe = model.forward_features(model.forward_frontend(torch.zeros(1, int(round(window_s * model_rate)))))
        provenance = card.provenance.licence if card is not None else (info.get("provenance") or {}).get("licence")
        super().__init__(sample_rate, window_s, probe.shape[1], licence=provenance,
                         source=f"wildtag run {checkpoints[0]}", batch_size=batch_size)
        self.pool = pool
        # A plain attribute, not a submodule: the run's weights stay out of this model's state dict.
        self.__dict__["_model"] = model.eval().requires_grad_(False)

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        model = self.__dict__["_model"]
        with torch.no_grad():
            features = model.forward_features(model.forward_frontend(torch.from_numpy(windows)))
        return _pool(features.float(), self.pool).numpy()
