"""Every packaged pipeline (src/wildtag/pipelines/) runs end to end on a tiny slice of real data.

The pipelines are the packaged files; only their parameters change: data paths, one epoch of a few steps,
a small backbone and the sizes that follow (the same shrinking as tests/test_recipes.py), so that each
stage runs in seconds on 2 CPU cores. A second run of each skips every stage.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from wildtag.labels import read_raven
from wildtag.pipeline import list_pipelines, load_pipeline, pipelines_dir
from wildtag.pipeline_run import plan, run_pipeline

SPECIES = ["Grylluscampestris", "Chorthippusbiguttulus", "Platypleuraplumosa"]
BATS = ["XC821237", "XC826219", "XC820302"]
PIPELINES = ["birdclef21", "dl_pipeline", "fat2019", "rfcx_tpfp"]


def test_every_pipeline_is_covered():
    assert sorted(p.stem for p in pipelines_dir().glob("*.yaml")) == sorted(PIPELINES)
    assert all(description for _, description in list_pipelines())


@pytest.fixture(scope="module")
def insects(shared_data, tmp_path_factory) -> Path:
    """Three species: four clips each for training (one of them validation), three more each as a noisy set
    with two labels swapped, in the columns of the BirdCLEF and FAT2019 tables."""
    labels = pd.read_csv(shared_data / "insectset32" / "labels.csv")
    out = tmp_path_factory.mktemp("insects")
    train = pd.concat([labels[labels.species == s].head(4) for s in SPECIES], ignore_index=True)
    train["split"] = ["validation" if i % 4 == 3 else "train" for i in range(len(train))]
    # metadata for the BirdCLEF table: a site per species (plus noise) and a date; made up, to exercise the stages
    rng = np.random.default_rng(0)
    site = {s: i * 10.0 for i, s in enumerate(SPECIES)}
    birdclef = pd.DataFrame({"filename": train.file, "primary_label": train.species, "secondary_labels": "[]",
                             "latitude": train.species.map(site) + rng.normal(size=len(train)),
                             "longitude": 2 * train.species.map(site) + rng.normal(size=len(train)),
                             "date": [f"2020-{m:02d}-15" for m in rng.integers(1, 13, len(train))]})
    birdclef.to_csv(out / "birdclef.csv", index=False)
    pd.DataFrame({"fname": train.file, "labels": train.species}).to_csv(out / "curated.csv", index=False)
    noisy = pd.concat([labels[labels.species == s].iloc[4:7] for s in SPECIES], ignore_index=True)
    swapped = noisy.species.tolist()
    swapped[0], swapped[3] = swapped[3], swapped[0]
    pd.DataFrame({"fname": noisy.file, "labels": swapped}).to_csv(out / "noisy.csv", index=False)
    test = pd.concat([labels[labels.species == s].iloc[7:8] for s in SPECIES], ignore_index=True)
    pd.DataFrame({"file": test.file.str.removeprefix("audio/"), "species": test.species}).to_csv(
        out / "test.csv", index=False)
    valid = train[train.split == "validation"]
    pd.DataFrame({"file": valid.file.str.removeprefix("audio/"), "species": valid.species}).to_csv(
        out / "valid.csv", index=False)
    birdclef[train.split == "validation"].assign(recording=valid.file.str.removeprefix("audio/"))[
        ["recording", "latitude", "longitude", "date"]].to_csv(out / "valid_metadata.csv", index=False)
    return out


@pytest.fixture(scope="module")
def bats(shared_data, tmp_path_factory) -> Path:
    """Three bat recordings as RFCx tables: each recording's own calls (12 at most) are true positives, the
    other species' bands at the times of every third call false positives; the boxes of the first recording
    again as a test set."""
    folder = shared_data / "bats_whombat"
    events = pd.concat([read_raven(next(folder.glob(f"{b}*.selections.txt"))) for b in BATS], ignore_index=True)
    events = events.groupby("recording_id").head(12).reset_index(drop=True)
    species = {name: i for i, name in enumerate(sorted(events["label"].unique()))}
    bands = events.groupby("label")[["f0_hz", "f1_hz"]].median()

    def rfcx(rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"recording_id": rows["recording_id"], "species_id": rows["label"].map(species),
                             "songtype_id": 1, "t_min": rows["t0_s"], "f_min": rows["f0_hz"],
                             "t_max": rows["t1_s"], "f_max": rows["f1_hz"]})

    absent = [{**row[["recording_id", "t0_s", "t1_s"]].to_dict(), "label": label, **band.to_dict()}
              for _, row in events.iloc[::3].iterrows() for label, band in bands.iterrows() if label != row["label"]]
    out = tmp_path_factory.mktemp("bats")
    rfcx(events).to_csv(out / "train_tp.csv", index=False)
    rfcx(pd.DataFrame(absent)).to_csv(out / "train_fp.csv", index=False)
    first = events[events["recording_id"] == events["recording_id"].iloc[0]]
    first.assign(label=first["label"].map(species).astype(str))[  # RFCx classes are species ids
        ["recording_id", "t0_s", "t1_s", "f0_hz", "f1_hz", "label"]].to_csv(out / "test_boxes.csv", index=False)
    return out


BAT_TRAIN = ["audio.sample_rate=192000", "folds.n_folds=2", "folds.strategy=random", "folds.run=[0]",
             "model.backbone={name: tiny_cnn}"]
MIXOVER = ["audio.window_s=0.1", "model.box_crop={out_bins: 32, out_frames: 32}"]
SED = ["audio.window_s=0.2", "model.frontend.n_mels=64", "model.frontend.hop_length=256"]
DL = ["audio.window_s=0.2", "model.frontend.hop_length=256", "inference.hop_s=0.4",
      "inference.tiles.widths_frames=[32, 64]"]


def bat_test_audio(shared_data: Path) -> str:
    return str(next((shared_data / "bats_whombat" / "audio").glob(f"{BATS[0]}*.flac")))


def audio_list(shared_data: Path, table: Path) -> str:
    """A YAML list of the audio files named in ``table``'s first column."""
    names = pd.read_csv(table).iloc[:, 0]
    return "[" + ", ".join(str(shared_data / "insectset32" / "audio" / Path(n).name) for n in names) + "]"


def tiny(param: str, cache: Path, *overrides: str) -> list[str]:
    """``--set param+=...`` for one epoch of a few steps of a small model."""
    common = ["trainer.batch_size=8", "trainer.num_workers=0", "sampler.train.samples_per_epoch=16",
              f"data.cache_dir={cache}"]
    return [f"{param}+={o}" for o in (*common, *overrides)]


def run_twice(name: str, sets: list[str], out: Path) -> list:
    pipe = load_pipeline(name, sets)
    steps = run_pipeline(pipe, out, echo=lambda _: None)
    assert all(s.action == "run" for s in steps)
    again = plan(load_pipeline(name, sets), out)
    assert [s.action for s in again] == ["skip"] * len(steps), [(s.stage.name, s.reason) for s in again]
    return steps


def test_birdclef21(insects, shared_data, tmp_path):
    root = shared_data / "insectset32"
    sets = [f"labels={insects / 'birdclef.csv'}", f"audio_root={root}", "epochs=1",
            f"soundscapes={audio_list(shared_data, insects / 'valid.csv')}",
            f"soundscape_labels={insects / 'valid.csv'}", f"soundscape_metadata={insects / 'valid_metadata.csv'}",
            "metadata_set=[--min-samples-leaf, 2, --max-iter, 20]",
            *tiny("train_set", tmp_path / "cache", "folds.n_folds=2", "model.backbone={name: tiny_cnn}",
                  "audio.window_s=2.0", "inference.window_s=1.5", "inference.hop_s=1.5", "model.frontend.n_mels=64",
                  "model.frontend.hop_length=640")]
    out = tmp_path / "bc"
    steps = run_twice("birdclef21", sets, out)
    assert [s.stage.name for s in steps] == ["cnn", "oof", "metadata", "thresholds", "soundscapes", "blended",
                                             "evaluate", "evaluate_blended"]
    assert json.loads((out / "metadata" / "blend.json").read_text())["weight"] == pytest.approx(0.14)
    thresholds = pd.read_csv(out / "thresholds" / "thresholds.csv")
    assert thresholds["class"].tolist() == ["*"] and (out / "thresholds" / "thresholds.png").is_file()
    assert (out / "soundscapes" / "detections.csv").is_file()
    audio = pd.read_csv(out / "soundscapes" / "recordings.csv").set_index("recording").sort_index()
    prior = pd.read_csv(out / "blended" / "prior.csv").set_index("recording").sort_index()
    blended = pd.read_csv(out / "blended" / "recordings.csv").set_index("recording").sort_index()
    assert blended.to_numpy() == pytest.approx(0.86 * audio[blended.columns].to_numpy()
                                               + 0.14 * prior[blended.columns].to_numpy(), abs=1e-6)
    for name in ("evaluate.json", "evaluate_blended.json"):
        assert json.loads((out / name).read_text())["n_samples"] == 3


def test_fat2019(insects, shared_data, tmp_path):
    root = shared_data / "insectset32"
    sets = [f"curated={insects / 'curated.csv'}", f"noisy={insects / 'noisy.csv'}", f"audio_root={root}",
            f"noisy_audio={audio_list(shared_data, insects / 'noisy.csv')}",
            f"test_audio={audio_list(shared_data, insects / 'test.csv')}", f"test_labels={insects / 'test.csv'}",
            "rounds=[4]", "epochs=1", "floor=0.3",
            *tiny("train_set", tmp_path / "cache", "folds.n_folds=2", "folds.run=[0]",
                  "model.backbone.num_blocks=2", "model.backbone.base_width=8", "audio.window_s=2.0",
                  "inference.hop_s=2.0", "model.frontend.n_mels=32", "augment.waveform=[]")]
    out = tmp_path / "fat"
    steps = run_twice("fat2019", sets, out)
    assert [s.stage.name for s in steps][:4] == ["curated", "noisy-1.scores", "noisy-1.picked", "noisy-1.model"]
    picked = pd.read_csv(out / "noisy-1" / "picked.csv")
    assert picked["source"].str.startswith("pseudo:").sum() == 4 and len(picked) == 12 + 4
    assert picked["source"].str.endswith("round1").sum() == 4
    relabelled = pd.read_csv(out / "relabelled.csv")
    assert relabelled["source"].str.contains("relabel-all").any()
    assert json.loads((out / "ensemble" / "ensemble.json").read_text())["method"] == "mean"
    assert json.loads((out / "evaluate.json").read_text())["n_samples"] == 3
    # each round's out-of-fold metric, side by side: where pseudo-labels stop helping is visible
    rounds = pd.read_csv(out / "training_metrics.csv")
    trained = [s.stage for s in steps if s.stage.command == "train"]
    assert rounds["stage"].tolist() == [s.name for s in trained] and "noisy-1.model" in rounds["stage"].tolist()
    for stage, row in zip(trained, rounds.to_dict("records"), strict=True):
        overall = json.loads((stage.out / "metrics.json").read_text())["overall"]
        assert row["lwlrap"] == pytest.approx(overall["lwlrap"])


def test_rfcx_tpfp(bats, shared_data, tmp_path):
    sets = [f"labels={bats / 'train_tp.csv'}", f"fp_labels={bats / 'train_fp.csv'}",
            f"audio_root={shared_data / 'bats_whombat' / 'audio'}", f"test_audio={bat_test_audio(shared_data)}",
            f"test_labels={bats / 'test_boxes.csv'}", "epochs=1", "mine_threshold=0.0", "mine_cap=3", "window_s=0.1", "hop_s=0.1",
            *tiny("mixover_set", tmp_path / "cache", *BAT_TRAIN, *MIXOVER),
            *tiny("sed_set", tmp_path / "cache", *BAT_TRAIN, *SED)]
    out = tmp_path / "rfcx"
    steps = run_twice("rfcx_tpfp", sets, out)
    assert [s.stage.name for s in steps] == ["mixover", "oof", "mined", "mixover_mined", "sed", "test_mixover",
                                             "test_sed", "ensemble", "evaluate"]
    mined = pd.read_csv(out / "mined.csv")
    new = mined[mined["source"].str.startswith("pseudo:")]
    assert 0 < len(new) and new.groupby("label").size().max() <= 3
    assert json.loads((out / "ensemble" / "ensemble.json").read_text())["method"] == "rank"
    assert json.loads((out / "evaluate.json").read_text())["n_classes_scored"] > 0


def test_dl_pipeline(bats, shared_data, tmp_path):
    sets = [f"labels={bats / 'train_tp.csv'}", f"audio_root={shared_data / 'bats_whombat' / 'audio'}",
            f"test_audio={bat_test_audio(shared_data)}", f"test_labels={bats / 'test_boxes.csv'}", "epochs=1",
            "seeds=[0, 1]", *tiny("train_set", tmp_path / "cache", *BAT_TRAIN, *DL)]
    out = tmp_path / "dl"
    steps = run_twice("dl_pipeline", sets, out)
    assert [s.stage.name for s in steps] == ["iterations-1.model", "iterations-1.test", "iterations-2.model",
                                             "iterations-2.test", "ensemble", "evaluate"]
    record = json.loads((out / "ensemble" / "ensemble.json").read_text())
    assert record["inputs"] == [str(out / "iterations-1" / "test"), str(out / "iterations-2" / "test")]
    a, b, mean = (pd.read_parquet(p / "windows.parquet") for p in (out / "iterations-1" / "test",
                                                                    out / "iterations-2" / "test", out / "ensemble"))
    classes = [c for c in a.columns if c not in ("recording", "t0_s", "t1_s")]
    assert mean[classes].to_numpy() == pytest.approx((a[classes].to_numpy() + b[classes].to_numpy()) / 2)
    assert yaml.safe_load((out / "iterations-2" / "model" / "config.yaml").read_text())["seed"] == 1
    assert json.loads((out / "evaluate.json").read_text())["n_classes_scored"] > 0
