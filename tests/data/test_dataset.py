from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from wildtag.audio import Recording, RecordingSet
from wildtag.data import BoxCropSampler, EventWindowSampler, WindowDataset, collate_windows
from wildtag.labels import ClassMap

SAMPLE_RATE = 1000

TWO_MINUTES = RecordingSet(Recording(rid, f"/audio/{rid}.wav", 32000, 1, 60.0) for rid in ("r1", "r2"))  # two 1-minute files


@pytest.fixture
def source(array_source):
    rng = np.random.default_rng(0)
    recordings = {"r1": rng.standard_normal(60 * SAMPLE_RATE).astype(np.float32),
                  "r2": rng.standard_normal(60 * SAMPLE_RATE).astype(np.float32)}  # fmt: skip
    return array_source(recordings, SAMPLE_RATE)


@pytest.fixture
def events(make_events):
    return make_events([
        ("r1", 10.0, 11.0, "a", True, 1.0, 300.0, 400.0),
        ("r1", 30.0, 30.5, "a", False, 0.1, 250.0, 350.0),
        ("r2", 5.0, 5.2, "b", True, 1.0, 100.0, 200.0),
        ("r2", 40.0, 41.0, "c", True, 1.0, 50.0, 450.0),
        ("r2", 42.0, 42.5, "d", True, 1.0, 50.0, 450.0),
    ])  # fmt: skip


def _dataset(events, source, class_map, **kw):
    sampler = EventWindowSampler(events, TWO_MINUTES, class_map, window_s=2.0)
    return WindowDataset(sampler, source.read, sample_rate=SAMPLE_RATE, window_s=2.0, **kw)


def test_item_holds_the_read_window_and_its_target(events, source, class_map):
    ds = _dataset(events, source, class_map)
    item = ds[0]
    rid, t0_s, t1_s = source.calls[-1]
    assert rid == "r1" and t0_s <= 10.0 and 11.0 <= t1_s
    assert item["wave"].dtype == torch.float32 and item["wave"].shape == (2000,)
    np.testing.assert_array_equal(item["wave"].numpy(), source.read(rid, t0_s, t1_s))
    assert item["target"][0] == 1.0 and torch.isnan(item["target"][2])
    assert item["weight"].shape == (4,) and item["index"] == 0
    assert torch.isnan(item["boxes"][:2]).all() and item["boxes"][2] == pytest.approx(2.0)


def test_items_reproduce_for_equal_seed_epoch_index_and_differ_across_epochs(events, source, class_map):
    def noisy(wave, sample_rate, rng):
        return wave + rng.standard_normal(len(wave)).astype(np.float32)

    ds = _dataset(events, source, class_map, waveform_transform=noisy, seed=3)
    first = [ds[i]["wave"] for i in range(len(ds))]
    assert all(torch.equal(a, ds[i]["wave"]) for i, a in enumerate(first))
    other_seed = _dataset(events, source, class_map, waveform_transform=noisy, seed=4)
    assert not torch.equal(first[0], other_seed[0]["wave"])
    ds.set_epoch(1)
    assert not any(torch.equal(a, ds[i]["wave"]) for i, a in enumerate(first))
    ds.set_epoch(0)
    assert torch.equal(first[2], ds[2]["wave"])


def test_dataloader_workers_give_the_same_items_as_the_main_process(events, source, class_map):
    ds = _dataset(events, source, class_map)
    ds.set_epoch(5)
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=2, collate_fn=collate_windows)
    (batch,) = list(loader)
    expected = collate_windows([ds[i] for i in range(len(ds))])
    for key in ("wave", "weight", "index"):
        assert torch.equal(batch[key], expected[key])


def test_box_crops_are_zero_padded_and_record_their_band_and_length(events, source):
    sampler = BoxCropSampler(events, TWO_MINUTES, ClassMap(["a", "b", "c", "d"]))
    ds = WindowDataset(sampler, source.read, sample_rate=SAMPLE_RATE, window_s=2.0)
    item = ds[2]  # class b: 0.2 s crop, band 100..200 Hz
    np.testing.assert_allclose(item["boxes"].numpy(), [100.0, 200.0, 0.2], rtol=1e-6)
    assert item["wave"].shape == (2000,)
    assert torch.count_nonzero(item["wave"][:200]) == 200 and torch.count_nonzero(item["wave"][200:]) == 0
    assert item["weight"].tolist() == [1.0, 1.0, 1.0, 1.0]
    fp = ds[1]
    assert fp["target"][0] == 0.0 and fp["weight"][0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"crops up to 1\.000 s, longer than window_s=0\.5"):
        WindowDataset(sampler, source.read, sample_rate=SAMPLE_RATE, window_s=0.5)


def test_collate_shapes_and_dtypes(events, source, class_map):
    ds = _dataset(events, source, class_map)
    batch = collate_windows([ds[i] for i in range(3)])
    assert batch["wave"].shape == (3, 2000) and batch["wave"].dtype == torch.float32
    assert batch["target"].shape == (3, 4) and batch["weight"].shape == (3, 4)
    assert batch["boxes"].shape == (3, 3) and batch["boxes"].dtype == torch.float32
    assert batch["index"].tolist() == [0, 1, 2] and batch["index"].dtype == torch.int64
    with pytest.raises(ValueError, match="empty"):
        collate_windows([])


def test_failed_reads_raise_or_become_masked_items(events, class_map):
    def broken(recording_id, t0_s, t1_s):
        raise OSError(f"{recording_id}.flac: truncated")

    with pytest.raises(OSError, match="truncated"):
        _dataset(events, type("S", (), {"read": staticmethod(broken)}), class_map)[0]
    ds = _dataset(events, type("S", (), {"read": staticmethod(broken)}), class_map, skip_errors=(OSError,))
    item = ds[3]
    assert torch.isnan(item["target"]).all() and (item["weight"] == 0).all()
    assert (item["wave"] == 0).all() and item["boxes"][2] == 0.0


def test_stereo_reader_is_rejected(events, class_map):
    ds = _dataset(events, type("S", (), {"read": staticmethod(lambda r, a, b: np.zeros((2, 10)))}), class_map)
    with pytest.raises(ValueError, match=r"mono samples \(n,\), got shape \(2, 10\) for 'r1'"):
        ds[0]


def test_real_decode_cache_as_reader(tmp_path):
    audio = pytest.importorskip("wildtag.audio")
    from wildtag.testing import write_tone_bursts

    path = write_tone_bursts(tmp_path / "r.wav", 8000, 3.0, [(1.0, 1.5, 1000.0)], noise_level=0.0)
    cache = audio.DecodeCache(tmp_path / "cache", sample_rate=8000)
    events = pd.DataFrame({"recording_id": ["r"], "t0_s": [1.0], "t1_s": [1.5], "label": ["tone"]})
    sampler = EventWindowSampler(events, RecordingSet([Recording.from_file(path, id="r")]), ClassMap(["tone"]), window_s=2.0)
    ds = WindowDataset(sampler, lambda rid, a, b: cache.read(path, a, b), sample_rate=8000, window_s=2.0)
    item = ds[0]
    t0_s = float(sampler.item(0, ds.rng(0)).t0_s)
    on = np.abs(item["wave"].numpy()) > 0.1
    active_s = np.flatnonzero(on)[[0, -1]] / 8000 + t0_s  # where the burst sits in the recording
    assert active_s[0] == pytest.approx(1.0, abs=2e-3) and active_s[1] == pytest.approx(1.5, abs=2e-3)
    assert item["target"].tolist() == [1.0]
