"""Fixtures of the archive-runner tests: a model that needs no training, and real recordings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wildtag.demo import EXAMPLE_DIR
from wildtag.models.card import InferenceDefaults, ModelCard, Provenance
from wildtag.testing import write_model_run

INSECT_CLASSES = ("Chorthippusbiguttulus", "Grylluscampestris", "Nemobiussylvestris", "Platypleuraplumosa")


def write_untrained_run(folder: Path, *, classes=INSECT_CLASSES, sample_rate=16000, window_s=1.0, hop_s=0.5,
                        detections=None, class_boxes=None, seed=0) -> Path:
    """A run directory with one fold of a randomly initialised tiny CNN (a real checkpoint and card)."""
    card = ModelCard(
        sample_rate=sample_rate, window_s=window_s, class_names=tuple(classes),
        frontend={"name": "logmel", "n_fft": 512, "hop_length": 256, "n_mels": 32},
        backbone={"name": "tiny_cnn"}, head={"name": "linear"},
        inference=InferenceDefaults(window_s=window_s, hop_s=hop_s, aggregate={"name": "max"},
                                    detections=detections, class_boxes=class_boxes),
        provenance=Provenance(wildtag_version="test", created="2026-01-01T00:00:00Z"),
    )
    return write_model_run(folder, card, seed)


@pytest.fixture(scope="session")
def untrained_run(tmp_path_factory) -> Path:
    return write_untrained_run(tmp_path_factory.mktemp("untrained") / "run")


@pytest.fixture
def insect_clips(tmp_path) -> Path:
    """The 32 bundled InsectSet32 clips (real field recordings, 1.5 to 6 s), copied into one folder."""
    folder = tmp_path / "clips"
    shutil.copytree(EXAMPLE_DIR / "audio", folder)
    return folder
