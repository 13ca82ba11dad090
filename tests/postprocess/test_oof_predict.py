"""Out-of-fold predict: ``folds.csv`` written by train, each recording scored by exactly its held-out fold."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from wildtag.errors import ModelLoadError
from wildtag.inference.journal import JournalKeyError
from wildtag.inference.oof import predict_oof
from wildtag.inference.predict import predict
from wildtag.testing import write_tone_clip_dataset
from wildtag.training.fold_file import read_folds


@pytest.fixture(scope="module")
def two_fold_run(tmp_path_factory):
    """A 2-fold tiny run (one short epoch per fold) on the tone set."""
    from wildtag.config import load_config
    from wildtag.training.fit import fit

    tmp = tmp_path_factory.mktemp("oof")
    labels = write_tone_clip_dataset(tmp / "data", per_class=4)
    recipe = {
        "name": "oof", "seed": 0, "data": {"labels": str(labels), "cache_dir": str(tmp / "cache")},
        "audio": {"sample_rate": 16000, "window_s": 1.0}, "folds": {"n_folds": 2},
        "sampler": {"train": {"name": "random_window", "samples_per_epoch": 32}},
        "model": {"frontend": {"name": "logmel", "n_fft": 512, "hop_length": 256, "n_mels": 32},
                  "backbone": {"name": "tiny_cnn"}, "head": {"name": "linear"}},
        "loss": {"name": "bce"}, "optimizer": {"lr": 0.003},
        "trainer": {"epochs": 1, "batch_size": 16, "num_workers": 0}, "inference": {"hop_s": 0.5},
    }
    (tmp / "oof.yaml").write_text(yaml.safe_dump(recipe))
    cfg = load_config(tmp / "oof.yaml")
    return fit(cfg, tmp / "run", show_progress=False), labels


def test_train_writes_which_recording_each_fold_held_out(two_fold_run):
    run, labels = two_fold_run
    folds = pd.read_csv(run / "folds.csv")
    assert sorted(folds["recording_id"]) == sorted(pd.read_csv(labels)["file"])
    for k in (0, 1):
        oof = pd.read_parquet(run / f"fold-{k}" / "oof.parquet")
        assert sorted(folds.loc[folds["fold"] == k, "recording_id"]) == sorted(oof["recording_id"])
    assert all((labels.parent / rid).samefile(path) for rid, path in zip(folds["recording_id"], folds["path"],
                                                                         strict=True))


def test_each_recording_is_scored_by_its_held_out_fold(two_fold_run, tmp_path):
    run, labels = two_fold_run
    summary = predict_oof(run, tmp_path / "oof", show_progress=False)
    assert summary.n_recordings == 8 and summary.n_errors == 0
    oof = pd.read_parquet(tmp_path / "oof" / "windows.parquet")
    fold_of = dict(pd.read_csv(run / "folds.csv")[["recording_id", "fold"]].itertuples(index=False))
    assert dict(pd.read_csv(tmp_path / "oof" / "oof_folds.csv").itertuples(index=False)) == fold_of
    per_fold = {k: pd.read_parquet(predict(run, [labels.parent], tmp_path / f"fold{k}", folds=[k],
                                           show_progress=False).out_dir / "windows.parquet") for k in (0, 1)}
    classes = ["low", "high"]
    for rid, k in fold_of.items():
        mine = oof[oof["recording"] == rid]
        held_out = per_fold[k][per_fold[k]["recording"] == rid]
        other = per_fold[1 - k][per_fold[1 - k]["recording"] == rid]
        np.testing.assert_array_equal(mine[["t0_s", *classes]].to_numpy(), held_out[["t0_s", *classes]].to_numpy())
        assert not np.allclose(mine[classes].to_numpy(), other[classes].to_numpy())  # the folds differ
    recordings = pd.read_csv(tmp_path / "oof" / "recordings.csv")
    assert sorted(recordings["recording"]) == sorted(fold_of)
    again = predict_oof(run, tmp_path / "oof", show_progress=False)  # resumes: nothing left to score
    assert (again.n_scored, again.n_skipped) == (0, 8)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "oof" / "windows.parquet"), oof)
    with pytest.raises(JournalKeyError, match="FoldScorers"):  # plain predict's outputs are another model's: refused
        predict(run, [labels.parent], tmp_path / "oof", show_progress=False)


def test_runs_without_folds_csv_recompute_them_or_refuse(two_fold_run, tmp_path):
    run, labels = two_fold_run
    old = tmp_path / "old"
    shutil.copytree(run, old)
    (old / "folds.csv").unlink()
    pd.testing.assert_frame_equal(read_folds(old), pd.read_csv(run / "folds.csv", dtype={"path": str}))
    changed = tmp_path / "labels.csv"
    pd.read_csv(labels).iloc[1:].to_csv(changed, index=False)  # a label row gone since training
    config = yaml.safe_load((old / "config.yaml").read_text())
    config["data"]["labels"] = [str(changed)]
    config["data"]["audio_root"] = str(labels.parent)
    (old / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ModelLoadError, match="changed since training"):
        predict_oof(old, tmp_path / "out", show_progress=False)


def test_cli_predict_oof_and_a_missing_fold(two_fold_run, tmp_path):
    from wildtag.cli_postprocess import register

    run, _ = two_fold_run
    partial = tmp_path / "partial"
    shutil.copytree(run, partial)
    shutil.rmtree(partial / "fold-1")  # folds.run=[0]: fold 1's recordings have no held-out model
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["predict-oof", str(partial), "--out", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 0, result.output
    folds = pd.read_csv(run / "folds.csv")
    scored = pd.read_csv(tmp_path / "o" / "recordings.csv")["recording"]
    assert sorted(scored) == sorted(folds.loc[folds["fold"] == 0, "recording_id"])
    errors = pd.read_csv(tmp_path / "o" / "errors.csv")
    assert sorted(errors["path"]) == sorted(folds.loc[folds["fold"] == 1, "recording_id"])
    assert errors["reason"].str.contains("fold 1 has no checkpoint").all()
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["n_errors"] == len(errors)


def test_oof_windows_feed_tp_mining_outside_the_boxes(two_fold_run, tmp_path):
    from wildtag.labels import read_labels
    from wildtag.postprocess.pseudo_labels import pseudo_label_files

    run, labels = two_fold_run
    predict_oof(run, tmp_path / "oof", show_progress=False)
    ids = pd.read_csv(labels)["file"]
    boxes = pd.DataFrame({"recording_id": ids, "t0_s": 0.0, "t1_s": 1.2, "label": np.where(ids.str.contains("low"),
                                                                                           "low", "high")})
    boxes.to_csv(tmp_path / "boxes.csv", index=False)
    result = pseudo_label_files(tmp_path / "oof", "oof-tp-mining", tmp_path / "mined.csv",
                                labels=tmp_path / "boxes.csv", threshold=0.0, cap=3)
    mined = read_labels(tmp_path / "mined.csv").table.iloc[len(boxes):]
    assert result.n_new == len(mined) == 6 and result.per_class == {"low": 3, "high": 3}
    assert (mined["t0_s"] >= 1.2).all()  # 1-s windows from 0.5 s on overlap the 0-1.2 s boxes
    windows = pd.read_parquet(tmp_path / "oof" / "windows.parquet")
    free = windows[windows["t0_s"] >= 1.2]
    for name in ("low", "high"):
        mine = mined[mined["label"] == name]
        got = [free.loc[(free["recording"] == r) & (free["t0_s"] == t), name].item()
               for r, t in zip(mine["recording_id"], mine["t0_s"], strict=True)]
        np.testing.assert_allclose(sorted(got), np.sort(free[name].to_numpy())[-3:])  # the 3 best free windows
