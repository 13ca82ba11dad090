"""``wildtag pseudo-label``: each strategy from a prediction folder to a label table that ``train`` reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from wildtag.cli_postprocess import register
from wildtag.labels import read_labels
from wildtag.testing import write_tone_clip_dataset


@pytest.fixture
def app():
    app = typer.Typer()
    register(app)
    return app


def _invoke(app, *args):
    result = CliRunner().invoke(app, ["pseudo-label", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def tones(tmp_path):
    """The tone set (labels name audio/<class>_<i>.wav) and a curated / noisy split of it."""
    labels = write_tone_clip_dataset(tmp_path / "data", per_class=4)
    table = pd.read_csv(labels)
    curated, noisy = table.iloc[::2], table.iloc[1::2].copy()
    noisy.loc[noisy.index[0], "label"] = "high" if noisy["label"].iloc[0] == "low" else "low"  # a wrong label
    curated.to_csv(tmp_path / "curated.csv", index=False)
    noisy.to_csv(tmp_path / "noisy.csv", index=False)
    return tmp_path, labels, noisy


def _recordings(folder, ids, low, high):
    """recordings.csv as `wildtag predict survey/audio` writes it: ids relative to that folder."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"recording": ids, "low": low, "high": high}).to_csv(folder / "recordings.csv", index=False)
    return folder


def test_agreement_topk_writes_a_table_with_sources_weights_and_the_base_first(app, tones):
    tmp, _, noisy = tones
    ids = [f.split("/", 1)[1] for f in noisy["file"]]  # predict ran on data/audio: "low_1.wav"
    truth = noisy["file"].str.contains("low").to_numpy()
    pred = _recordings(tmp / "pred", ids, np.where(truth, 0.9, 0.1), np.where(truth, 0.2, 0.8))
    out = tmp / "round1.csv"
    _invoke(app, pred, "--strategy", "agreement-topk", "--labels", tmp / "noisy.csv", "--k", 2,
            "--base", tmp / "curated.csv", "--out", out, "--run", "cnn", "--round", 3)
    table = read_labels(out).table
    assert len(table) == 4 + 2  # 4 curated rows, then the 2 most agreeing noisy clips
    new = table[table["source"].str.startswith("pseudo:")]
    assert set(new["source"]) == {"pseudo:cnn:agreement-topk:round3"}
    assert noisy["file"].iloc[0] not in set(new["recording_id"])  # the wrong label agrees least
    assert set(new["recording_id"]) <= set(noisy["file"])  # written with the labels' names, not predict's
    assert new["weight"].tolist() == [1.0, 1.0]
    assert table["source"].iloc[:4].str.contains("curated.csv").all()


def test_relabel_all_drops_clips_without_a_prediction(app, tones):
    tmp, _, noisy = tones
    pred = _recordings(tmp / "pred", list(noisy["file"]), [0.9, 0.2, 0.1, 0.7], [0.1, 0.3, 0.95, 0.6])
    out = tmp / "all.parquet"
    result = _invoke(app, pred, "--strategy", "relabel-all", "--floor", 0.5, "--out", out)
    table = read_labels(out).table
    assert table["recording_id"].tolist() == [noisy["file"].iloc[i] for i in (0, 2, 3)]
    assert table["labels"].tolist() == [["low"], ["high"], ["low", "high"]]
    assert table["weight"].tolist() == pytest.approx([0.9, 0.95, 0.65])
    assert "3 new clips row(s)" in result.output


def test_missing_options_are_one_line_user_errors(app, tones):
    tmp, _, noisy = tones
    pred = _recordings(tmp / "pred", list(noisy["file"]), [0.9] * 4, [0.1] * 4)
    result = CliRunner().invoke(app, ["pseudo-label", str(pred), "--strategy", "agreement-topk",
                                      "--out", str(tmp / "x.csv")])
    assert result.exit_code != 0 and "needs --labels" in str(result.exception)
    result = CliRunner().invoke(app, ["pseudo-label", str(pred), "--strategy", "agreement-top",
                                      "--out", str(tmp / "x.csv")])
    assert "agreement-topk" in str(result.exception)  # did you mean


def test_oof_mining_writes_boxes_outside_the_known_ones_capped_per_class(app, tmp_path):
    t0 = np.arange(0.0, 30.0, 2.5)
    rng = np.random.default_rng(0)
    windows = pd.DataFrame({"recording": np.repeat(["a.flac", "b.flac"], len(t0)), "t0_s": np.tile(t0, 2),
                            "t1_s": np.tile(t0, 2) + 5.0, "low": rng.uniform(0.5, 1.0, 2 * len(t0)),
                            "high": rng.uniform(0.0, 0.2, 2 * len(t0))})
    pred = tmp_path / "oof"
    pred.mkdir()
    windows.to_parquet(pred / "windows.parquet")
    # RFCx names recordings without their suffix; boxes cover 4-9 s of a and 20-26 s of b
    boxes = pd.DataFrame({"recording_id": ["a", "b"], "t0_s": [4.0, 20.0], "t1_s": [9.0, 26.0],
                          "label": ["low", "high"]})
    boxes.to_csv(tmp_path / "boxes.csv", index=False)
    out = tmp_path / "mined.csv"
    _invoke(app, pred, "--strategy", "oof-tp-mining", "--labels", tmp_path / "boxes.csv", "--threshold", 0.6,
            "--cap", 5, "--fp-below", 0.05, "--out", out)
    table = read_labels(out).table
    assert len(table[~table["source"].str.startswith("pseudo:")]) == 2  # the training boxes come first
    mined = table[table["source"].str.startswith("pseudo:")]
    assert set(mined["recording_id"]) <= {"a", "b"}  # the boxes' names for the recordings
    tp = mined[mined["present"]]
    assert len(tp[tp["label"] == "low"]) == 5 and tp["label"].eq("low").all()  # high never reaches 0.6
    for _, box in boxes.iterrows():
        inside = (mined["recording_id"] == box["recording_id"]) & (mined["t0_s"] < box["t1_s"]) & (
            mined["t1_s"] > box["t0_s"])
        assert not inside.any()
    free = windows[~(((windows["recording"] == "a.flac") & (windows["t0_s"] < 9) & (windows["t1_s"] > 4))
                     | ((windows["recording"] == "b.flac") & (windows["t0_s"] < 26) & (windows["t1_s"] > 20)))]
    best = np.sort(free["low"].to_numpy())[::-1][:5]
    assert sorted(np.round(best, 9)) == sorted(np.round(
        [free.loc[(free["recording"].str[0] == r) & (free["t0_s"] == t), "low"].item()
         for r, t in zip(tp["recording_id"], tp["t0_s"], strict=True)], 9))
    fp = mined[~mined["present"]]
    assert len(fp) <= 5 and (fp["label"] == "high").all()


def test_train_reads_the_pseudo_label_table(app, tones, make_tiny_config):
    """`train`'s data preparation keeps the table's source and weight, and the weight is each window's
    loss weight (the full fit loop runs on such tables in the OOF tests)."""
    from wildtag.training.datamodule import FoldDataModule
    from wildtag.training.fit import split_folds
    from wildtag.training.prepare import prepare_data

    tmp, labels, noisy = tones
    truth = noisy["file"].str.contains("low").to_numpy()
    pred = _recordings(tmp / "pred", list(noisy["file"]), np.where(truth, 0.9, 0.1), np.where(truth, 0.2, 0.8))
    out = tmp / "round1.csv"
    _invoke(app, pred, "--strategy", "relabel-all", "--floor", 0.5, "--base", tmp / "curated.csv", "--out", out)
    cfg = make_tiny_config(tmp, out, f"data.audio_root={labels.parent}", "data.split_column=null",
                           "folds.n_folds=2")
    data = prepare_data(cfg.data, show_progress=False)
    assert data.table["source"].str.startswith("pseudo:").sum() == 4
    weights, expected = {}, {}
    for train, valid in split_folds(cfg, data).values():
        sampler = FoldDataModule(cfg, data, train, valid, tmp / "cache", 0).train_sampler
        for i in range(len(train)):
            item = sampler.item(i, np.random.default_rng(0))
            weights[item.recording_id] = item.weight
        expected.update(zip(train["recording_id"], train["weight"], strict=True))
    assert weights == pytest.approx(expected) and set(expected.values()) == {1.0, 0.9, 0.8}
