from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

RATE = 8000


class TinyEmbedder(nn.Module):
    """A tiny conv net standing in for an audio embedding model: (B, N) -> (B, 16)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 8, 64, stride=32)
        self.fc = nn.Linear(8, 16)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(wave[:, None, :])).mean(-1))


@pytest.fixture(scope="session")
def tiny_embedder() -> TinyEmbedder:
    torch.manual_seed(0)
    return TinyEmbedder().eval()


@pytest.fixture(scope="session")
def tiny_onnx(tiny_embedder, tmp_path_factory) -> Path:
    """The tiny embedder exported to ONNX by this test session (legacy exporter: no onnxscript needed)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import warnings

    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tiny_embedder, (torch.zeros(2, RATE),), str(path), input_names=["wave"],
                          output_names=["embedding"], dynamic_axes={"wave": {0: "batch", 1: "samples"}, "embedding": {0: "batch"}},
                          dynamo=False)
    return path


def write_tone(path: Path, freq_hz: float, seconds: float, rate: int = RATE, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq_hz * t) + 0.01 * rng.standard_normal(len(t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave.astype(np.float32), rate)
    return path


@pytest.fixture
def onnx_spec(tiny_onnx) -> dict:
    return {"name": "onnx_embedding", "path": str(tiny_onnx), "sample_rate": RATE, "window_s": 1.0,
            "output_name": "embedding", "licence": "cc0-1.0"}
