"""Frontend images computed in the decode stream (one STFT per block) score as the per-window frontend does."""

import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from wildtag.inference.backends import create_scorer
from wildtag.inference.journal import FileStamp
from wildtag.inference.scoring import FileTask, ScoreFiles, WindowSettings
from wildtag.models.card import InferenceDefaults, ModelCard, Provenance
from wildtag.testing import write_model_run

SR = 16000


def _card(normalize: str, hop_s: float) -> ModelCard:
    return ModelCard(
        sample_rate=SR, window_s=1.0, class_names=("a", "b", "c"),
        frontend={"name": "logmel", "n_fft": 512, "hop_length": 256, "n_mels": 32, "normalize": normalize},
        backbone={"name": "tiny_cnn"}, head={"name": "linear"},
        inference=InferenceDefaults(window_s=1.0, hop_s=hop_s, aggregate={"name": "max"}),
        provenance=Provenance(wildtag_version="test", created="2026-01-01T00:00:00Z"),
    )


class PerWindow:
    """The scorer without a stream frontend: windows go to the model as samples (the old path)."""

    def __init__(self, scorer):
        self.scorer, self.card, self.preprocessing = scorer, scorer.card, scorer.preprocessing

    def scores(self, wave):
        assert wave.ndim == 2
        return self.scorer.scores(wave)


def _score(scorer, files, hop_s, workers):
    work = ScoreFiles(scorer, WindowSettings(SR, 1.0, hop_s, 1.0), batch_size=16, num_workers=workers)
    tasks = [FileTask(p.stem, p, FileStamp(0, 0)) for p in files]
    return {r.recording_id: r for r in work(tasks)}


@pytest.mark.parametrize(("normalize", "hop_s", "workers"), [("per_bin", 0.512, 0), ("batchnorm", 0.512, 1),
                                                             ("per_bin", 0.3, 0)])
def test_stream_frontend_scores_equal_the_per_window_frontend(tmp_path, normalize, hop_s, workers):
    run = write_model_run(tmp_path / "run", _card(normalize, hop_s), seed=0)
    other = write_model_run(tmp_path / "other", _card(normalize, hop_s), seed=1)
    shutil.copytree(other / "fold-0", run / "fold-1")  # two folds, each with its own frontend BatchNorm
    rng = np.random.default_rng(0)
    files = []
    for name, seconds in (("long", 71.3), ("short", 0.6), ("mid", 4.25)):  # several decode blocks; < 1 window
        x = (rng.standard_normal(int(SR * seconds)) * np.linspace(0.01, 0.5, int(SR * seconds))).astype(np.float32)
        sf.write(tmp_path / f"{name}.wav", x, SR, subtype="FLOAT")
        files.append(tmp_path / f"{name}.wav")
    scorer = create_scorer(run, device="cpu")
    if normalize == "batchnorm":
        for model in scorer.ensemble.models:
            model.frontend.bn.running_mean.uniform_(-60, -20)
            model.frontend.bn.running_var.uniform_(50, 200)
    assert scorer.stream_frontend() is scorer.ensemble.models[0].frontend
    seen = []
    real_scores = scorer.scores
    scorer.scores = lambda wave: seen.append(wave.ndim) or real_scores(wave)
    new = _score(scorer, files, hop_s, workers)
    assert set(seen) == {4}  # the model got the stream's images, not samples
    old = _score(PerWindow(scorer), files, hop_s, workers)  # the same models, fed samples
    assert set(seen) == {4, 2}
    assert new.keys() == old.keys() == {"long", "short", "mid"}
    for name in new:
        np.testing.assert_array_equal(new[name].t0_s, old[name].t0_s)
        assert new[name].duration_s == old[name].duration_s
        assert np.abs(new[name].scores - old[name].scores).max() <= 1e-5
    assert len(new["long"].t0_s) > 100 and new["long"].t0_s[-1] == pytest.approx(71.3 - 1.0)


def test_no_stream_frontend_for_tiles_or_two_channel_frontends(tmp_path):
    card = _card("per_bin", 0.5)
    tiled = ModelCard.from_dict({**card.to_dict(), "inference": {**card.to_dict()["inference"],
                                                                 "tiles": {"widths_frames": [16]}}})
    assert create_scorer(write_model_run(tmp_path / "tiles", tiled), device="cpu").stream_frontend() is None
    two = ModelCard.from_dict({**card.to_dict(), "frontend": {**card.frontend, "name": "stft_mel"}})
    assert create_scorer(write_model_run(tmp_path / "two", two), device="cpu").stream_frontend() is None
    assert isinstance(create_scorer(write_model_run(tmp_path / "one", card), device="cpu").stream_frontend(),
                      torch.nn.Module)
