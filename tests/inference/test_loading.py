"""load_ensemble: the folds of one run must share their whole model card, but for when and by which code
each was trained."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from wildtag.errors import ModelLoadError
from wildtag.inference.loading import load_ensemble
from wildtag.models.card import InferenceDefaults, ModelCard, Provenance, card_differences
from wildtag.testing import write_model_run


def _card(**provenance) -> ModelCard:
    return ModelCard(
        sample_rate=16000, window_s=1.0, class_names=("a", "b"),
        frontend={"name": "logmel", "n_fft": 512, "hop_length": 256, "n_mels": 32},
        backbone={"name": "tiny_cnn"}, head={"name": "linear"},
        inference=InferenceDefaults(window_s=1.0, hop_s=0.5, aggregate={"name": "max"}),
        provenance=Provenance.now(commit="abc", recipe="tiny", data_fingerprint="f" * 64, **provenance),
    )  # fmt: skip


def _two_folds(tmp_path, first: ModelCard, second: ModelCard):
    run = write_model_run(tmp_path / "run", first, seed=0)
    other = write_model_run(tmp_path / "other", second, seed=1)
    shutil.move(other / "fold-0", run / "fold-1")
    return run


def test_folds_trained_at_other_times_or_commits_average(tmp_path):
    first = _card()
    later = first.replace(provenance=dataclasses.replace(first.provenance, created="2030-01-01T00:00:00Z",
                                                         commit="def-dirty", wildtag_version="9.9"))
    ensemble = load_ensemble(_two_folds(tmp_path, first, later))
    assert len(ensemble.models) == 2 and ensemble.card == first


def test_folds_whose_cards_differ_elsewhere_are_refused_naming_the_fields(tmp_path):
    first = _card()
    other = first.replace(
        inference=dataclasses.replace(first.inference, hop_s=0.25),
        provenance=dataclasses.replace(first.provenance, data_fingerprint="0" * 64, created="2030-01-01T00:00:00Z"),
        head={"name": "linear", "dropout": 0.5},
    )  # fmt: skip
    assert card_differences(first, other) == ["head.dropout", "inference.hop_s", "provenance.created",
                                              "provenance.data_fingerprint"]  # fmt: skip
    run = _two_folds(tmp_path, first, other)
    with pytest.raises(ModelLoadError) as caught:
        load_ensemble(run)
    message = str(caught.value)
    assert message.startswith(f"{run / 'fold-1' / 'checkpoints' / 'best.ckpt'}: its model card differs from")
    assert "head.dropout (None vs 0.5)" in message and "inference.hop_s (0.5 vs 0.25)" in message
    assert "provenance.data_fingerprint" in message and "created" not in message
    assert "\n" not in message and "cannot be averaged" in message
