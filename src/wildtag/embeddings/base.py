"""The contract of an embedding model used as a frontend: waveforms in, one vector per window out.

An :class:`EmbeddingFrontend` maps ``wave`` (B, N) to ``(B, dim, 1, 1)``: a 1x1 "feature map", so the
``identity`` backbone and any head (``linear``, ``mlp``) sit on top of it, and a probe trained on cached
vectors is an ordinary :class:`~wildtag.models.Tagger` that predict runs on audio. The model is frozen
(embedding models are not fine-tuned here). A wave longer than the model's window is cut into windows
whose embeddings are averaged; a shorter one is zero-padded, as BirdNET pads the last chunk of a file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class EmbeddingFrontend(nn.Module):
    """Base of embedding models as frontends. Subclasses set the attributes below and :meth:`embed_windows`.

    Attributes: ``sample_rate``, ``window_s`` (the model's input span), ``dim`` (= ``out_channels``),
    ``licence`` (of the model's weights; None when unknown) and ``pretrained_source`` (where they came from).
    """

    is_embedding = True

    def __init__(self, sample_rate: int, window_s: float, dim: int, *, licence: str | None,
                 source: str | None, batch_size: int = 32):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.sample_rate, self.window_s, self.dim = int(sample_rate), float(window_s), int(dim)
        self.out_channels = self.dim
        self.licence, self.pretrained_source = licence, source
        self.batch_size = int(batch_size)

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sample_rate))

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """Embeddings (n, dim) float32 of ``windows`` (n, window_samples) float32 (n <= batch_size)."""
        raise NotImplementedError

    def embed(self, wave: np.ndarray | Tensor) -> np.ndarray:
        """Embeddings (B, dim) float32 of waveforms (B, N), each cut into model windows and averaged."""
        if isinstance(wave, Tensor):
            wave = wave.detach().float().cpu().numpy()
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim == 3 and wave.shape[1] == 1:
            wave = wave[:, 0]
        if wave.ndim != 2:
            raise ValueError(f"expected waveforms shaped (batch, samples), got {wave.shape}")
        n = self.window_samples
        pieces = max(1, -(-wave.shape[1] // n))
        padded = np.zeros((wave.shape[0], pieces * n), dtype=np.float32)
        padded[:, : wave.shape[1]] = wave
        windows = padded.reshape(wave.shape[0] * pieces, n)
        out = np.concatenate([self.embed_windows(windows[i : i + self.batch_size])
                              for i in range(0, len(windows), self.batch_size)])
        return out.reshape(wave.shape[0], pieces, -1).mean(axis=1).astype(np.float32)

    def forward(self, wave: Tensor) -> Tensor:
        with torch.no_grad():
            vectors = torch.from_numpy(self.embed(wave))
        return vectors.to(wave.device)[:, :, None, None]

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, window_s={self.window_s}, dim={self.dim}, licence={self.licence!r}"
