from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from wildtag.config import ConfigError
from wildtag.embeddings.store import EmbeddingStore
from wildtag.inference.loading import load_ensemble
from wildtag.training.fit import fit


def _probe_overrides(store, onnx_path, *extra):
    model = {"name": "onnx_embedding", "path": str(onnx_path), "window_s": 1.0, "licence": "cc0-1.0"}
    frontend = {"name": "embedding_store", "path": str(store), "model": model, "hop_s": 0.5}
    return [f"model.frontend={yaml.safe_dump(frontend, default_flow_style=True).strip()}",
            "model.backbone={name: identity, norm: true}", "trainer.epochs=25", "optimizer.lr=0.03", *extra]


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory, tone_labels, tiny_onnx):
    from tests.conftest import tiny_config

    tmp = tmp_path_factory.mktemp("probe")
    cfg = tiny_config(tmp, tone_labels, *_probe_overrides(tmp / "emb", tiny_onnx))
    return fit(cfg, tmp / "runs" / "probe", show_progress=False), tmp / "emb"


def test_a_probe_embeds_the_labelled_recordings_once_and_learns_them(probe_run, tone_labels):
    run, store_dir = probe_run
    store = EmbeddingStore.open(store_dir)
    labels = pd.read_csv(tone_labels)
    assert len(store.recordings()) == len(labels)  # every labelled recording embedded, once
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["overall"]["lwlrap"] > 0.9  # the two tone pitches are told apart from the vectors
    oof = pd.read_parquet(run / "fold-0" / "oof.parquet")
    assert len(oof) == (labels["split"] == "validation").sum()


def test_the_trained_probe_runs_on_audio_through_its_embedding_model(probe_run, tone_labels):
    run, store_dir = probe_run
    ensemble = load_ensemble(run)
    pre = ensemble.card.to_dict()
    assert pre["frontend"]["name"] == "onnx_embedding" and pre["provenance"]["licence"] == "cc0-1.0"
    # scoring audio (embedding on the fly) gives what the head gives on the cached vector of that window
    rows = EmbeddingStore.open(store_dir).read()
    rid = rows.recording[0]
    first = rows.select((rows.recording == rid) & (rows.t0_s == 0.0))
    from wildtag.audio import load

    path = next(p for p in tone_labels.parent.rglob("*.wav") if p.relative_to(tone_labels.parent).as_posix() == rid
                or p.stem == rid.rsplit(".", 1)[0].split("/")[-1])
    wave = torch.from_numpy(load(path, sample_rate=pre["sample_rate"])[:16000])[None]
    model = ensemble.models[0]
    with torch.no_grad():
        from_audio = ensemble.scores(wave)[0]
        features = model.forward_features(torch.from_numpy(first.vectors)[:, :, None, None])
        cached = torch.sigmoid(model.forward_head(features)["logits"])[0]
    torch.testing.assert_close(from_audio, cached, rtol=1e-4, atol=1e-5)


def test_a_probe_needs_the_identity_backbone(tmp_path, tone_labels, tiny_onnx, make_tiny_config):
    cfg = make_tiny_config(tmp_path, tone_labels, *_probe_overrides(tmp_path / "emb", tiny_onnx),
                           "model.backbone={name: tiny_cnn}")
    with pytest.raises(ConfigError, match="identity"):
        fit(cfg, tmp_path / "run", show_progress=False)


def test_box_labels_give_window_targets_with_unknowns_masked():
    from wildtag.audio import Recording, RecordingSet
    from wildtag.embeddings.probe import window_targets
    from wildtag.embeddings.store import Embeddings
    from wildtag.labels import ClassMap, make_events
    from wildtag.training.prepare import LabelledData

    events = make_events(pd.DataFrame({
        "recording_id": ["r", "r"], "t0_s": [0.2, 2.1], "t1_s": [0.8, 2.9], "label": ["bat", "moth"],
        "present": [True, False]}))
    recordings = RecordingSet([Recording("r", "r.wav", 8000, 1, 4.0)])
    data = LabelledData("events", events, ClassMap(["bat", "moth"]), recordings)
    windows = Embeddings(np.array(["r"] * 4, dtype=object), np.arange(4.0), np.arange(4.0) + 1,
                         np.zeros((4, 3), np.float32))

    class Cfg:  # the two settings window_targets reads
        sampler = type("S", (), {"train": type("P", (), {"kwargs": {}})()})()

    target, weight = window_targets(Cfg, data, events, windows)
    np.testing.assert_array_equal(target[0], [1.0, np.nan])  # a true positive box: bat present, moth unknown
    np.testing.assert_array_equal(target[2], [np.nan, 0.0])  # a false-positive box: moth confirmed absent
    assert np.isnan(target[1]).all() and np.isnan(target[3]).all()  # nothing known: left out of training
