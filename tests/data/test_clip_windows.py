from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wildtag.data import FullClipSampler, RandomWindowSampler, create_sampler
from wildtag.labels import ClassMap, LabelError, make_clip_labels

DURATIONS_S = {"long": 30.0, "short": 2.0, "scape": 600.0}


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
    sampler = RandomWindowSampler(clips, DURATIONS_S, class_map, window_s=5.0)
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
    item = RandomWindowSampler(clips, DURATIONS_S, class_map, window_s=5.0).item(1, np.random.default_rng(0))
    assert (item.t0_s, item.t1_s) == (0.0, 2.0)  # the dataset pads it to 5 s


def test_clip_targets_with_smoothing_values(clips, class_map):
    smoothing = dict(primary_value=0.995, secondary_value=0.3, absent_value=0.0025)
    sampler = create_sampler(
        "random_window",
        clip_labels=clips,
        durations_s=DURATIONS_S,
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
    sampler = FullClipSampler(clips, DURATIONS_S, class_map, window_s=5.0, crop=crop)
    assert len(sampler) == 3
    starts = {sampler.item(2, np.random.default_rng(seed)).t0_s for seed in range(10)}
    assert starts == {expected_t0_s}  # no randomness
    long = sampler.item(0, np.random.default_rng(0))
    assert long.t0_s == {"start": 0.0, "center": 12.5}[crop] and long.t1_s - long.t0_s == pytest.approx(5.0)
    short = sampler.item(1, np.random.default_rng(0))
    assert (short.t0_s, short.t1_s) == (0.0, 2.0)


def test_full_clip_random_crop_varies_inside_the_span(clips, class_map):
    sampler = FullClipSampler(clips, DURATIONS_S, class_map, window_s=5.0, crop="random")
    starts = [sampler.item(2, np.random.default_rng(seed)).t0_s for seed in range(30)]
    assert len(set(starts)) == 30 and 100.0 <= min(starts) and max(starts) <= 105.0
    with pytest.raises(ValueError, match="crop must be"):
        FullClipSampler(clips, DURATIONS_S, class_map, window_s=5.0, crop="middle")


def test_bad_rows_are_named(clips, class_map):
    with pytest.raises(LabelError, match=r"train\.csv:2: label 'c' is not in the class map"):
        RandomWindowSampler(clips, DURATIONS_S, ClassMap(["a", "b", "d"]), window_s=5.0)
    outside = clips.assign(t0_s=[np.nan, np.nan, 700.0], t1_s=[np.nan, np.nan, 710.0])
    with pytest.raises(LabelError, match=r"train\.csv:4: labelled span 700\.0\.\.710\.0 s"):
        RandomWindowSampler(outside, DURATIONS_S, class_map, window_s=5.0)
