from __future__ import annotations

import numpy as np
import pytest

from wildtag.audio import Recording, RecordingSet
from wildtag.data import BoxCropSampler, create_sampler
from wildtag.labels import ClassMap, LabelError

RECORDINGS = RecordingSet(
    Recording(rid, f"/audio/{rid}.wav", 32000, 1, duration_s) for rid, duration_s in {"r1": 60.0, "r2": 60.0, "tiny": 0.5}.items()
)


@pytest.fixture
def boxes(make_events):
    # (recording, t0_s, t1_s, label, present, weight, f0_hz, f1_hz)
    return make_events([
        ("r1", 10.0, 11.0, "a", True, 1.0, 6000.0, 8000.0),
        ("r2", 20.0, 21.3, "a", True, 1.0, 5000.0, 7000.0),
        ("r1", 30.0, 35.0, "a", False, 1.0, 100.0, 20000.0),  # an FP: wider and longer, changes nothing
        ("r1", 40.0, 40.4, "b", True, 0.5, 1000.0, 1500.0),
        ("r2", 0.0, 0.2, "b", True, 1.0, 1200.0, 1800.0),      # at the start of the recording
        ("r2", 50.0, 50.2, "b", False, 1.0, 900.0, 3000.0),
    ])  # fmt: skip


@pytest.fixture
def names():
    return ClassMap(["a", "b"])


def test_learns_band_and_duration_per_class_from_tp_boxes_only(boxes, names):
    sampler = BoxCropSampler(boxes, RECORDINGS, names)
    assert sampler.class_bands_hz == {"a": (5000.0, 8000.0), "b": (1000.0, 1800.0)}
    assert sampler.class_durations_s == pytest.approx({"a": 1.3, "b": 0.4})
    assert sampler.max_duration_s == pytest.approx(1.3)


def test_items_are_centred_crops_with_one_hot_targets(boxes, names):
    sampler = BoxCropSampler(boxes, RECORDINGS, names)
    assert len(sampler) == len(boxes)
    expected = [(1.0, "a"), (1.0, "a"), (0.0, "a"), (1.0, "b"), (1.0, "b"), (0.0, "b")]
    for index, (value, label) in enumerate(expected):
        item = sampler.item(index, np.random.default_rng(0))
        box = boxes.iloc[index]
        c = 0 if label == "a" else 1
        assert item.target[c] == value and np.isnan(item.target[1 - c])
        assert item.band_hz == sampler.class_bands_hz[label]
        assert item.t1_s - item.t0_s == pytest.approx(sampler.class_durations_s[label])
        assert item.weight == pytest.approx(box.weight)
        if box.t0_s > 1.0:  # far from the edges: centred on the box
            assert (item.t0_s + item.t1_s) / 2 == pytest.approx((box.t0_s + box.t1_s) / 2)
    # Box 4 (0..0.2 s, crop 0.4 s) would start at -0.1 s: shifted to start at the recording's start.
    assert sampler.item(4, np.random.default_rng(0)).t0_s == 0.0


def test_time_jitter_moves_the_crop_by_at_most_its_share(boxes, names):
    sampler = BoxCropSampler(boxes, RECORDINGS, names, time_jitter=0.25)
    starts_s = np.array([sampler.item(0, np.random.default_rng(seed)).t0_s for seed in range(200)])
    shift = starts_s + 1.3 / 2 - 10.5  # crop centre minus box centre
    assert np.abs(shift).max() <= 0.25 * 1.3 + 1e-9
    assert shift.min() < -0.2 and shift.max() > 0.2


def test_crops_stay_inside_the_recording(make_events):
    boxes = make_events(
        [("r1", 59.8, 60.0, "a", True, 1.0, 10.0, 20.0), ("r1", 0.0, 2.0, "a", True, 1.0, 10.0, 20.0)]
    )
    sampler = BoxCropSampler(boxes, RECORDINGS, ClassMap(["a"]), time_jitter=1.0)
    for seed in range(50):
        item = sampler.item(seed % 2, np.random.default_rng(seed))
        assert 0.0 <= item.t0_s and item.t1_s <= 60.0 + 1e-9


def test_fp_crop_holding_a_tp_of_the_same_class_is_positive(make_events):
    boxes = make_events([("r1", 10.0, 11.0, "a", True, 1.0, 10.0, 20.0),
                         ("r1", 10.1, 11.1, "a", False, 1.0, 10.0, 20.0)])  # fmt: skip
    item = BoxCropSampler(boxes, RECORDINGS, ClassMap(["a"])).item(1, np.random.default_rng(0))
    assert item.target[0] == 1.0


def test_class_without_tp_box_is_a_clear_error(boxes):
    with pytest.raises(ValueError, match=r"class\(es\) have none: \['c'\]"):
        BoxCropSampler(boxes, RECORDINGS, ClassMap(["a", "b", "c"]))
    only_fp = boxes[(boxes.label == "a") | ~boxes.present].reset_index(drop=True)
    with pytest.raises(ValueError, match=r"\['b'\]"):
        BoxCropSampler(only_fp, RECORDINGS, ClassMap(["a", "b"]))


def test_unknown_label_is_named(boxes):
    with pytest.raises(LabelError, match=r"boxes\.csv:5: label 'b'"):
        create_sampler("box_crop", events=boxes, recordings=RECORDINGS, class_map=ClassMap(["a"]))


def test_class_boxes_can_come_from_all_folds(boxes, names):
    """A fold whose training boxes lack a class still crops it the way the other folds do."""
    one_fold = boxes[boxes["recording_id"] == "r1"].reset_index(drop=True)
    sampler = BoxCropSampler(one_fold, RECORDINGS, names, class_boxes_from=boxes)
    assert sampler.class_bands_hz == {"a": (5000.0, 8000.0), "b": (1000.0, 1800.0)}
    assert sampler.class_durations_s == pytest.approx({"a": 1.3, "b": 0.4})
    assert len(sampler) == len(one_fold)


def test_an_empty_recording_gives_crops_of_a_random_class_taught_as_absent(boxes, names):
    recordings = RecordingSet([*RECORDINGS.values(), Recording("quiet", "/audio/quiet.wav", 32000, 1, 30.0)])
    sampler = BoxCropSampler(boxes, recordings, names, empty_recordings=["quiet"])
    assert len(sampler) == len(boxes) + 1
    classes = set()
    for seed in range(30):
        item = sampler.item(len(boxes), np.random.default_rng(seed))
        c = int(np.flatnonzero(~np.isnan(item.target))[0])
        assert item.recording_id == "quiet" and item.target[c] == 0.0 and np.isnan(item.target).sum() == 1
        name = names.names[c]
        assert item.band_hz == sampler.class_bands_hz[name]
        assert item.t1_s - item.t0_s == pytest.approx(sampler.class_durations_s[name])
        assert 0.0 <= item.t0_s and item.t1_s <= 30.0
        classes.add(c)
    assert classes == {0, 1}
