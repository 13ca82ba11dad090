import numpy as np
import pandas as pd
import pytest

from wildtag.config import ConfigError
from wildtag.labels import LabelError
from wildtag.postprocess.pseudo_labels import agreement_topk, mine_oof_windows, relabel_all

CLASSES = ["a", "b"]


def test_agreement_topk_keeps_exactly_the_k_most_agreeing():
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(20)]
    scores = pd.DataFrame({"recording_id": ids, "a": rng.random(20), "b": rng.random(20)})
    clips = pd.DataFrame({"recording_id": ids, "labels": [["a"] if i % 2 else ["a", "b"] for i in range(20)]})
    kept = agreement_topk(clips, scores, CLASSES, 5, run="r", round_index=2)
    expected = [
        scores.loc[i, "a"] if i % 2 else (scores.loc[i, "a"] + scores.loc[i, "b"]) / 2 for i in range(20)
    ]
    top = sorted(range(20), key=lambda i: -expected[i])[:5]
    assert sorted(kept["recording_id"]) == sorted(ids[i] for i in top)
    assert set(kept["source"]) == {"pseudo:r:agreement-topk:round2"}


def test_relabel_all_drops_rows_without_a_prediction():
    scores = pd.DataFrame({"recording_id": ["x", "y", "z"], "a": [0.6, 0.1, 0.6], "b": [0.9, 0.2, 0.1]})
    out = relabel_all(scores, CLASSES, floor=0.5, run="r")
    assert out["recording_id"].tolist() == ["x", "z"]  # y has no class at the floor
    assert out["labels"].tolist() == [["b", "a"], ["a"]]  # most probable first
    assert out["weight"].tolist() == pytest.approx([0.75, 0.6])
    assert set(out["source"]) == {"pseudo:r:relabel-all:round1"}


def test_bad_settings_are_user_errors():
    scores = pd.DataFrame({"recording_id": ["x"], "a": [0.6], "b": [0.9]})
    clips = pd.DataFrame({"recording_id": ["x"], "labels": [["a"]]})
    with pytest.raises(ConfigError, match="k >= 1"):
        agreement_topk(clips, scores, CLASSES, 0, run="r")
    with pytest.raises(ConfigError, match="floor"):
        relabel_all(scores, CLASSES, floor=1.5, run="r")
    with pytest.raises(LabelError, match="lacks column"):
        relabel_all(scores.drop(columns="b"), CLASSES, run="r")


def test_oof_mining_avoids_boxes_and_respects_the_cap():
    t0 = np.arange(0, 60, 5.0)
    windows = pd.DataFrame({"recording": "rec", "t0_s": t0, "t1_s": t0 + 5, "a": 0.95, "b": 0.01})
    boxes = pd.DataFrame({"recording_id": ["rec"], "t0_s": [12.0], "t1_s": [21.0], "label": ["a"]})
    out = mine_oof_windows(windows, boxes, {"a": 0.9, "b": 0.9}, cap=4, run="r", fp_below=0.05)
    tp = out[out["present"] == 1]
    assert len(tp) == 4 and set(tp["label"]) == {"a"}
    overlap = (out["t0_s"] < 21.0) & (out["t1_s"] > 12.0)
    assert not overlap.any()
    assert len(out[(out["present"] == 0) & (out["label"] == "b")]) == 4


def test_oof_mining_matches_boxes_named_without_suffix_or_folder():
    # predict names recordings 'site/rec.flac'; RFCx-style tables name them 'rec': still the same recording
    t0 = np.arange(0, 30, 5.0)
    windows = pd.DataFrame({"recording": "site/rec.flac", "t0_s": t0, "t1_s": t0 + 5, "a": 0.95})
    boxes = pd.DataFrame({"recording_id": ["rec"], "t0_s": [0.0], "t1_s": [30.0], "label": ["a"]})
    assert mine_oof_windows(windows, boxes, {"a": 0.5}, cap=10, run="r").empty
