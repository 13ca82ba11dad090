"""Every packaged recipe (src/wildtag/recipes/) runs end to end (train, then predict) on a tiny slice of real data.

The recipes keep their own parts (frontend, head, loss, augmentation, mixing, tiles...); only the data paths,
the backbone (a small CNN instead of an ImageNet-sized one), the sample rate for the ultrasonic bat set and
the sizes that follow from them are overridden, so each runs in seconds on 2 CPU cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wildtag.config import load_config
from wildtag.inference.predict import predict
from wildtag.labels import make_events, read_raven, write_table
from wildtag.models import create_backbone
from wildtag.recipebook import recipes_dir
from wildtag.training.fit import fit

RECIPES = recipes_dir()
CLIP_RECIPES = ["birdclef21", "fat2019_lsep", "fat2019_lsep_stft1d"]
BOX_RECIPES = ["rfcx_tp_fp_mixover", "rfcx_dl_pipeline", "rfcx_keras_attention"]
SPECIES = ["Grylluscampestris", "Chorthippusbiguttulus", "Platypleuraplumosa"]
BATS = ["XC821237", "XC826219", "XC820302"]


def test_every_recipe_is_covered():
    assert sorted(p.stem for p in RECIPES.glob("*.yaml")) == sorted(
        ["demo", "insectset32", "insectset32_birdnet", "bats_tp_fp_birdnet", *CLIP_RECIPES, *BOX_RECIPES])  # probes: tests/embeddings


@pytest.fixture(scope="module")
def insect_slice(shared_data, tmp_path_factory) -> Path:
    """Three species, four clips each (one for validation), in the columns each clip recipe expects."""
    labels = pd.read_csv(shared_data / "insectset32" / "labels.csv")
    rows = pd.concat([labels[labels.species == s].head(4) for s in SPECIES], ignore_index=True)
    rows["split"] = ["validation" if i % 4 == 3 else "train" for i in range(len(rows))]
    out = tmp_path_factory.mktemp("insects")
    pd.DataFrame({"filename": rows.file, "primary_label": rows.species, "secondary_labels": ["[]"] * len(rows),
                  "split": rows.split}).to_csv(out / "birdclef.csv", index=False)
    pd.DataFrame({"fname": rows.file, "labels": rows.species, "split": rows.split}).to_csv(out / "fat.csv",
                                                                                            index=False)
    return out


@pytest.fixture(scope="module")
def bat_boxes(shared_data, tmp_path_factory) -> Path:
    """Three bat recordings: their own species' calls are true positives; the other species' bands at the
    same times are false-positive boxes (confirmed absences), so TP, FP and unknown all occur."""
    tables = [read_raven(next((shared_data / "bats_whombat").glob(f"{b}*.selections.txt"))) for b in BATS]
    events = pd.concat(tables, ignore_index=True)
    events = events.groupby("recording_id").head(12)
    bands = events.groupby("label")[["f0_hz", "f1_hz"]].median()
    absences = []
    for _, row in events.iloc[::3].iterrows():
        for label, band in bands.iterrows():
            if label != row["label"]:
                absences.append({**row[["recording_id", "t0_s", "t1_s"]].to_dict(), "label": label,
                                 "f0_hz": band.f0_hz, "f1_hz": band.f1_hz, "present": False})
    table = make_events(pd.concat([events[["recording_id", "t0_s", "t1_s", "f0_hz", "f1_hz", "label", "present"]],
                                   pd.DataFrame(absences)], ignore_index=True))
    return write_table(table, tmp_path_factory.mktemp("bats") / "events.csv")


def small(name: str) -> list[str]:
    return ["trainer.epochs=3", "trainer.batch_size=8", "trainer.num_workers=0", f"name={name}"]


CLIP_OVERRIDES = {
    "birdclef21": ["model.backbone={name: tiny_cnn}", "audio.window_s=2.0", "inference.window_s=1.5",
                   "inference.hop_s=1.5", "model.frontend.n_mels=64", "model.frontend.hop_length=640",
                   "sampler.train.samples_per_epoch=32"],
    "fat2019_lsep": ["model.backbone.num_blocks=3", "model.backbone.base_width=8", "audio.window_s=3.0",
                     "inference.hop_s=3.0", "model.frontend.n_mels=64", "augment.waveform_off_epoch=2",
                     "sampler.train.samples_per_epoch=32"],
    "fat2019_lsep_stft1d": ["model.backbone={name: fat2019_cnn1d, in_bins: 129}", "audio.window_s=2.0", "optimizer.lr=0.001",
                            "inference.hop_s=2.0", "sampler.train.samples_per_epoch=32"],
}
BOX_OVERRIDES = {
    "rfcx_tp_fp_mixover": ["model.backbone={name: tiny_cnn}", "audio.window_s=0.1", "model.box_crop={out_bins: 32, out_frames: 32}",
                           "inference.hop_s=0.05", "sampler.train.samples_per_epoch=48"],
    "rfcx_dl_pipeline": ["model.backbone={name: tiny_cnn}", "audio.window_s=0.2", "model.frontend.hop_length=256", "inference.hop_s=0.2",
                         "inference.tiles.widths_frames=[16, 32]", "sampler.train.samples_per_epoch=48"],
    "rfcx_keras_attention": ["model.backbone={name: tiny_cnn}", "audio.window_s=0.2", "model.frontend.n_mels=64", "model.frontend.hop_length=256",
                             "inference.hop_s=0.2", "sampler.train.samples_per_epoch=48"],
}


def epoch_losses(run: Path) -> np.ndarray:
    log = pd.read_csv(next((run / "fold-0" / "logs").glob("version_*/metrics.csv")))
    return log["train/loss_epoch"].dropna().to_numpy()


def check_run(run: Path, audio: list[Path], tmp_path: Path, n_classes: int) -> None:
    losses = epoch_losses(run)
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["overall"]["n_classes"] == n_classes
    out = predict(run, audio, tmp_path / "pred", num_workers=0, show_progress=False)
    assert out.n_errors == 0 and out.n_recordings == len(audio)
    windows = pd.read_parquet(tmp_path / "pred" / "windows.parquet")
    recordings = pd.read_csv(tmp_path / "pred" / "recordings.csv")
    assert recordings.shape == (len(audio), n_classes + 1)
    scores = windows.drop(columns=["recording", "t0_s", "t1_s"]).to_numpy()
    assert scores.shape[1] == n_classes and np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("recipe", CLIP_RECIPES)
def test_clip_recipe_trains_and_predicts(recipe, insect_slice, shared_data, tmp_path):
    labels_csv = insect_slice / ("birdclef.csv" if recipe == "birdclef21" else "fat.csv")
    overrides = [f"data.labels={labels_csv}", f"data.audio_root={shared_data / 'insectset32'}",
                 "data.split_column=split", f"data.cache_dir={tmp_path / 'c'}",
                 *small(recipe), *CLIP_OVERRIDES[recipe]]
    run = fit(load_config(RECIPES / f"{recipe}.yaml", overrides), tmp_path / "run", show_progress=False)
    labels = pd.read_csv(labels_csv)
    audio = [shared_data / "insectset32" / f for f in labels[labels.split == "validation"].iloc[:, 0]]
    check_run(run, audio, tmp_path, n_classes=3)


@pytest.mark.parametrize("recipe", BOX_RECIPES)
def test_box_recipe_trains_and_predicts(recipe, bat_boxes, shared_data, tmp_path):
    overrides = [f"data.labels={bat_boxes}", "data.format=table", "data.fp_labels=null",
                 f"data.audio_root={shared_data / 'bats_whombat' / 'audio'}", f"data.cache_dir={tmp_path / 'c'}",
                 "audio.sample_rate=192000", "folds.n_folds=3", "folds.strategy=random", "folds.run=[0]",
                 *small(recipe), *BOX_OVERRIDES[recipe]]
    run = fit(load_config(RECIPES / f"{recipe}.yaml", overrides), tmp_path / "run", show_progress=False)
    audio = sorted((shared_data / "bats_whombat" / "audio").glob(f"{BATS[0]}*.flac"))
    check_run(run, audio, tmp_path, n_classes=3)


@pytest.mark.parametrize("recipe", [*CLIP_RECIPES, *BOX_RECIPES])
def test_recipe_backbone_builds(recipe):
    """The recipe's own (ImageNet-sized) backbone exists and takes the recipe's input channels."""
    cfg = load_config(RECIPES / f"{recipe}.yaml")
    in_chans = 1 + int(bool(cfg.model.frontend.kwargs.get("freq_coord", False)))
    backbone = create_backbone(cfg.model.backbone.name, in_chans=in_chans,
                               **{k: v for k, v in cfg.model.backbone.kwargs.items()})
    assert backbone.num_features > 0


@pytest.mark.parametrize("recipe", ["demo", "insectset32"])
def test_predict_windows_of_the_from_scratch_recipes_lie_on_the_stft_frame_grid(recipe):
    """Overlapping windows share STFT frames in predict only when the hop is whole STFT hops (issue 8)."""
    from wildtag.features import create_frontend
    from wildtag.features.base import shares_frames

    cfg = load_config(recipe, check=False)
    frontend = create_frontend(cfg.model.frontend.name, sample_rate=cfg.audio.sample_rate, **cfg.model.frontend.kwargs)
    hop_samples = cfg.inference.hop_s * cfg.audio.sample_rate
    assert shares_frames(frontend)
    assert hop_samples == int(hop_samples) and int(hop_samples) % frontend.hop_length == 0
    assert cfg.inference.hop_s < cfg.audio.window_s  # windows overlap, so there are frames to share
