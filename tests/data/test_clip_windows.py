from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wildtag.audio import Recording, RecordingSet
from wildtag.data import FullClipSampler, RandomWindowSampler, WindowDataset, collate_windows, create_sampler
from wildtag.labels import ClassMap, LabelError, make_clip_labels

RECORDINGS = RecordingSet(
    Recording(rid, f"/audio/{rid}.wav", 32000, 1, duration_s) for rid, duration_s in {"long": 30.0, "short": 2.0, "scape": 600.0}.items()
)


@pytest.fixture
def clips():
    return make_clip_labels(
        pd.DataFrame({
            "recording_id": ["long", "short", "scape"],
            "t0_s": [np.nan, np.nan, 100.0],
            "t1_s": [np.nan, np.nan, 110.0],
            "labels": [["a"], ["b"], []],
            "secondary_labels": [["c"], [], ["d"]],
        }),
        origin="train.csv",
    )  # fmt: skip


def test_random_windows_lie_inside_the_labelled_span(clips, class_map):
    sampler = RandomWindowSampler(clips, RECORDINGS, class_map, window_s=5.0)
    spans = {0: (0.0, 30.0), 2: (100.0, 110.0)}
    for index, (lo, hi) in spans.items():
        starts = []
        for seed in range(100):
            item = sampler.item(index, np.random.default_rng(seed))
            assert lo <= item.t0_s and item.t1_s <= hi + 1e-9
            assert item.t1_s - item.t0_s == pytest.approx(5.0)
            starts.append(item.t0_s)
        assert max(starts) - min(starts) > 0.8 * (hi - lo - 5.0)  # they use the whole span


def test_short_recording_gives_its_whole_span_from_zero(clips, class_map):
    item = RandomWindowSampler(clips, RECORDINGS, class_map, window_s=5.0).item(1, np.random.default_rng(0))
    assert (item.t0_s, item.t1_s) == (0.0, 2.0)  # the dataset pads it to 5 s


def test_clip_targets_with_smoothing_values(clips, class_map):
    smoothing = dict(primary_value=0.995, secondary_value=0.3, absent_value=0.0025)
    sampler = create_sampler(
        "random_window",
        clip_labels=clips,
        recordings=RECORDINGS,
        class_map=class_map,
        window_s=5.0,
        **smoothing,
    )
    np.testing.assert_allclose(sampler.item(0, np.random.default_rng(0)).target, [0.995, 0.0025, 0.3, 0.0025])
    np.testing.assert_allclose(
        sampler.item(2, np.random.default_rng(0)).target, [0.0025, 0.0025, 0.0025, 0.3]
    )


@pytest.mark.parametrize(("crop", "expected_t0_s"), [("start", 100.0), ("center", 102.5)])
def test_full_clip_fixed_crops(clips, class_map, crop, expected_t0_s):
    sampler = FullClipSampler(clips, RECORDINGS, class_map, window_s=5.0, crop=crop)
    assert len(sampler) == 3
    starts = {sampler.item(2, np.random.default_rng(seed)).t0_s for seed in range(10)}
    assert starts == {expected_t0_s}  # no randomness
    long = sampler.item(0, np.random.default_rng(0))
    assert long.t0_s == {"start": 0.0, "center": 12.5}[crop] and long.t1_s - long.t0_s == pytest.approx(5.0)
    short = sampler.item(1, np.random.default_rng(0))
    assert (short.t0_s, short.t1_s) == (0.0, 2.0)


def test_full_clip_random_crop_varies_inside_the_span(clips, class_map):
    sampler = FullClipSampler(clips, RECORDINGS, class_map, window_s=5.0, crop="random")
    starts = [sampler.item(2, np.random.default_rng(seed)).t0_s for seed in range(30)]
    assert len(set(starts)) == 30 and 100.0 <= min(starts) and max(starts) <= 105.0
    with pytest.raises(ValueError, match="crop must be"):
        FullClipSampler(clips, RECORDINGS, class_map, window_s=5.0, crop="middle")


def test_bad_rows_are_named(clips, class_map):
    with pytest.raises(LabelError, match=r"train\.csv:2: label 'c' is not in the class map"):
        RandomWindowSampler(clips, RECORDINGS, ClassMap(["a", "b", "d"]), window_s=5.0)
    outside = clips.assign(t0_s=[np.nan, np.nan, 700.0], t1_s=[np.nan, np.nan, 710.0])
    with pytest.raises(LabelError, match=r"train\.csv:4: labelled span 700\.0\.\.710\.0 s"):
        RandomWindowSampler(outside, RECORDINGS, class_map, window_s=5.0)


@pytest.fixture
def weak_clips(clips):
    """Two curated rows (weight column NaN: 1) and one weak external row whose negatives count 0.1."""
    return clips.assign(negative_weight=[np.nan, 0.1, 0.25])


def test_without_negative_weight_items_weigh_one(clips, class_map):
    item = RandomWindowSampler(clips, RECORDINGS, class_map, window_s=5.0).item(0, np.random.default_rng(0))
    assert item.weight == 1.0


@pytest.mark.parametrize("name", ["random_window", "full_clip"])
def test_negative_weight_weighs_unlabelled_classes_only(weak_clips, class_map, name):
    sampler = create_sampler(
        name, clip_labels=weak_clips, recordings=RECORDINGS, class_map=class_map, window_s=5.0,
        secondary_value=0.3,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(sampler.item(0, rng).weight, [1.0, 1.0, 1.0, 1.0])  # NaN means 1
    np.testing.assert_allclose(sampler.item(1, rng).weight, [0.1, 1.0, 0.1, 0.1])  # primary b
    third = sampler.item(2, rng)
    np.testing.assert_allclose(third.weight, [0.25, 0.25, 0.25, 1.0])  # secondary d counts as labelled
    np.testing.assert_allclose(third.target, [0.0, 0.0, 0.0, 0.3])  # and keeps its secondary value


def test_negative_weight_reaches_the_dataset_items(weak_clips, class_map, array_source):
    rng = np.random.default_rng(1)
    source = array_source(
        {rid: rng.standard_normal(int(d * 100)).astype(np.float32) for rid, d in RECORDINGS.durations_s.items()}, 100
    )
    sampler = FullClipSampler(weak_clips, RECORDINGS, class_map, window_s=5.0)
    ds = WindowDataset(sampler, source.read, sample_rate=100, window_s=5.0)
    np.testing.assert_allclose(ds[1]["weight"].numpy(), [0.1, 1.0, 0.1, 0.1])
    np.testing.assert_array_equal(ds[1]["target"].numpy(), [0.0, 1.0, 0.0, 0.0])
    batch = collate_windows([ds[i] for i in range(3)])
    np.testing.assert_allclose(batch["weight"][:, 0].numpy(), [1.0, 0.1, 0.25])


def test_row_weight_scales_the_whole_row_and_combines_with_negative_weight(clips, weak_clips, class_map):
    """A ``weight`` column (pseudo-labelled rows carry one) is the row's loss weight."""
    rng = np.random.default_rng(0)
    plain = RandomWindowSampler(clips.assign(weight=[0.5, np.nan, 0.8]), RECORDINGS, class_map, window_s=5.0)
    assert [plain.item(i, rng).weight for i in range(3)] == pytest.approx([0.5, 1.0, 0.8])
    both = FullClipSampler(weak_clips.assign(weight=[0.5, 0.5, 2.0]), RECORDINGS, class_map, window_s=5.0)
    np.testing.assert_allclose(both.item(1, rng).weight, [0.05, 0.5, 0.05, 0.05])
    np.testing.assert_allclose(both.item(2, rng).weight, [0.5, 0.5, 0.5, 2.0])
    with pytest.raises(LabelError, match=r"train\.csv:2: weight is -1.0"):
        RandomWindowSampler(clips.assign(weight=[-1.0, 1.0, 1.0]), RECORDINGS, class_map, window_s=5.0)


def test_bad_negative_weight_names_its_row(clips, class_map):
    for bad, shown in ((-0.5, "-0.5"), ("heavy", "'heavy'"), (np.float64(np.inf), "inf")):
        table = clips.assign(negative_weight=pd.Series([np.nan, bad, 1.0], dtype=object))
        with pytest.raises(
            LabelError, match=rf"train\.csv:3: negative_weight is {shown}; expected a finite weight >= 0"
        ):
            RandomWindowSampler(table, RECORDINGS, class_map, window_s=5.0)
    from_text = clips.assign(negative_weight=pd.Series(["0.1", "", " "], dtype="str"))
    sampler = RandomWindowSampler(from_text, RECORDINGS, class_map, window_s=5.0)
    np.testing.assert_allclose(sampler.item(0, np.random.default_rng(0)).weight, [1.0, 0.1, 1.0, 0.1])
    np.testing.assert_array_equal(sampler.item(1, np.random.default_rng(0)).weight, 1.0)
