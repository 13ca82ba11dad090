"""Helpers for tests and examples: small synthetic recordings written to disk.

    >>> path = write_tone(tmp_path / "a.wav", sample_rate=16000, duration_s=1.0, freq_hz=440.0)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tone(
    sample_rate: int, duration_s: float, freq_hz: float, amplitude: float = 0.5, num_channels: int = 1
) -> np.ndarray:
    """A sine tone as float32 samples, shaped (frames,) or (frames, channels)."""
    t = np.arange(int(round(sample_rate * duration_s)), dtype=np.float64) / sample_rate
    x = (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    if num_channels == 1:
        return x
    # Each further channel is quieter, so tests can tell channels apart.
    return np.stack([x / (c + 1) for c in range(num_channels)], axis=1)


def write_tone(
    path: str | Path,
    sample_rate: int = 16000,
    duration_s: float = 1.0,
    freq_hz: float = 440.0,
    amplitude: float = 0.5,
    num_channels: int = 1,
    subtype: str | None = None,
) -> Path:
    """Write a sine tone to ``path`` (format from the suffix) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(sample_rate, duration_s, freq_hz, amplitude, num_channels), sample_rate, subtype=subtype)
    return path


def write_tone_bursts(
    path: str | Path,
    sample_rate: int,
    duration_s: float,
    bursts: list[tuple[float, float, float]],
    noise_level: float = 0.01,
    seed: int = 0,
) -> Path:
    """Write low noise with sine bursts ``(t0_s, t1_s, freq_hz)`` at known times: a tiny soundscape."""
    rng = np.random.default_rng(seed)
    n = int(round(sample_rate * duration_s))
    x = (noise_level * rng.standard_normal(n)).astype(np.float32)
    t = np.arange(n) / sample_rate
    for t0, t1, f in bursts:
        on = (t >= t0) & (t < t1)
        x[on] += 0.5 * np.sin(2 * np.pi * f * t[on]).astype(np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, sample_rate)
    return path


TONE_CLASSES = {"low": 800.0, "high": 3000.0}


def write_tone_clip_dataset(
    root: str | Path,
    per_class: int = 6,
    classes: dict[str, float] | None = None,
    sample_rate: int = 16000,
    duration_s: float = 3.0,
    seed: int = 0,
) -> Path:
    """A tiny clip-labelled set: noisy tone bursts whose pitch gives the class; returns ``labels.csv``.

    Each class gets ``per_class`` recordings; the last one of each class is marked ``validation``.
    """
    root = Path(root)
    classes = classes or TONE_CLASSES
    rng = np.random.default_rng(seed)
    rows = []
    for label, freq in classes.items():
        for i in range(per_class):
            start = float(rng.uniform(0.0, duration_s / 3))
            bursts = [(start, start + duration_s / 2, freq * float(rng.uniform(0.95, 1.05)))]
            name = f"audio/{label}_{i}.wav"
            write_tone_bursts(root / name, sample_rate, duration_s, bursts, noise_level=0.05,
                              seed=int(rng.integers(1 << 31)))
            rows.append(f"{name},{label},{'validation' if i == per_class - 1 else 'train'}")
    labels = root / "labels.csv"
    labels.write_text("file,label,split\n" + "\n".join(rows) + "\n")
    return labels


def write_model_run(folder: Path, card, seed: int = 0) -> Path:
    """A run directory holding one fold of a randomly initialised model built from ``card`` (a
    :class:`~wildtag.models.card.ModelCard`): a real weights-only checkpoint plus ``model.json``, for tests
    and benchmarks that need a model whose speed or plumbing, not its accuracy, matters."""
    import torch

    from wildtag.models import Tagger

    torch.manual_seed(seed)
    model = Tagger.from_card(card).eval()
    ckpt = Path(folder) / "fold-0" / "checkpoints" / "best.ckpt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "wildtag": {"card": card.to_dict()}}, ckpt)
    card.save(Path(folder) / "model.json")
    return Path(folder)


def read_output(out: Path, name: str):
    """One table an archive run wrote under ``out``: Parquet, a Raven ``.txt`` (tab-separated) or a CSV."""
    import pandas as pd

    if name.endswith(".parquet"):
        return pd.read_parquet(out / name)
    return pd.read_csv(out / name, sep="\t" if name.endswith(".txt") else ",")
