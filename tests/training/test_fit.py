import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from wildtag.config import ConfigError
from wildtag.models.card import ModelCard
from wildtag.training.fit import fit


def test_run_directory_holds_everything_design_promises(tiny_run):
    for name in ("config.yaml", "command", "commit", "environment", "classes.json", "metrics.json"):
        assert (tiny_run / name).is_file(), name
    fold = tiny_run / "fold-0"
    assert (fold / "checkpoints" / "best.ckpt").is_file()
    assert (fold / "checkpoints" / "last.ckpt").is_file()
    assert json.loads((tiny_run / "classes.json").read_text())["names"] == ["high", "low"]
    oof = pd.read_parquet(fold / "oof.parquet")
    assert list(oof.columns) == ["recording_id", "high", "low", "target:high", "target:low"]
    assert len(oof) == 2  # one validation recording per class


def test_loss_falls_and_tones_are_told_apart(tiny_run):
    log = pd.read_csv(tiny_run / "fold-0" / "logs" / "version_0" / "metrics.csv")
    epoch_loss = log["train/loss_epoch"].dropna().to_numpy()
    assert epoch_loss[-1] < epoch_loss[0]
    oof = pd.read_parquet(tiny_run / "fold-0" / "oof.parquet").set_index("recording_id")
    # each validation recording scores its own class above the other
    for rid, row in oof.iterrows():
        own = "low" if "low" in rid else "high"
        other = "high" if own == "low" else "low"
        assert row[own] > row[other], (rid, row.to_dict())
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["overall"]["lwlrap"] == 1.0


def test_checkpoint_carries_the_model_card_and_model_json_sits_beside_it(tiny_run):
    state = torch.load(tiny_run / "fold-0" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    card = ModelCard.from_dict(state["wildtag"]["card"])
    assert card.sample_rate == 16000 and card.window_s == 1.0
    assert card.class_names == ("high", "low") and card.activation == "sigmoid"
    assert card.provenance.recipe and len(card.provenance.data_fingerprint) == 64
    assert ModelCard.load(tiny_run / "fold-0" / "checkpoints" / "model.json") == card
    assert ModelCard.load(tiny_run / "model.json").fingerprint() == card.fingerprint()


def test_a_softmax_loss_declares_its_activation_in_the_card(tmp_path, tone_labels, make_tiny_config):
    cfg = make_tiny_config(tmp_path, tone_labels, "trainer.epochs=1", "loss.name=cross_entropy")
    run = fit(cfg, tmp_path / "ce", show_progress=False)
    assert ModelCard.load(run / "model.json").activation == "softmax"


def test_same_seed_gives_the_same_weights_twice(tmp_path, tone_labels, make_tiny_config):
    cfg = make_tiny_config(tmp_path, tone_labels, "trainer.epochs=2")
    a = fit(cfg, tmp_path / "a", show_progress=False)
    b = fit(cfg, tmp_path / "b", show_progress=False)
    wa = torch.load(a / "fold-0/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    wb = torch.load(b / "fold-0/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def test_out_means_that_folder_never_a_renamed_one(tmp_path, tone_labels, make_tiny_config):
    cfg = make_tiny_config(tmp_path, tone_labels, "trainer.epochs=1")
    first = fit(cfg, tmp_path / "runs" / "same", show_progress=False)
    assert first == tmp_path / "runs" / "same"
    with pytest.raises(FileExistsError, match="not empty; continue it with --resume"):
        fit(cfg, first, show_progress=False)
    (first / "marker").write_text("old")
    again = fit(cfg, first, overwrite=True, show_progress=False)
    assert again == first and not (first / "marker").exists() and (first / "metrics.json").is_file()
    assert not (tmp_path / "runs" / "same-2").exists()


def test_a_run_that_fails_before_training_leaves_no_folder(tmp_path, tone_labels, make_tiny_config):
    cfg = make_tiny_config(tmp_path, tone_labels, "trainer.epochs=1", "data.split_column=nowhere")
    with pytest.raises(ConfigError, match="nowhere"):
        fit(cfg, tmp_path / "failed", show_progress=False)
    assert not (tmp_path / "failed").exists()  # so the same --out works next time


def test_resume_refuses_overrides_that_would_change_the_experiment(tiny_run):
    with pytest.raises(ConfigError, match="--set optimizer.lr cannot change when resuming"):
        fit(None, tiny_run, resume=True, overrides=["optimizer.lr=0.1"], show_progress=False)


def test_resume_with_more_epochs_extends_a_finished_run(tmp_path, tone_labels, make_tiny_config):
    run = fit(make_tiny_config(tmp_path, tone_labels, "trainer.epochs=1"), tmp_path / "x", show_progress=False)
    fit(None, run, resume=True, overrides=["trainer.epochs=2"], show_progress=False)
    assert torch.load(run / "fold-0/checkpoints/last.ckpt", weights_only=True)["epoch"] == 1
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["epochs"] == 2


def test_last_checkpoint_is_the_final_epoch_whatever_the_best(tmp_path, tone_labels, make_tiny_config):
    # monitoring the *highest* validation loss makes an early epoch the best one
    cfg = make_tiny_config(tmp_path, tone_labels, "trainer.epochs=3", "trainer.monitor_mode=max")
    run = fit(cfg, tmp_path / "l", show_progress=False)
    last = torch.load(run / "fold-0/checkpoints/last.ckpt", weights_only=True)
    best = torch.load(run / "fold-0/checkpoints/best.ckpt", weights_only=True)
    assert last["epoch"] == 2
    assert best["epoch"] < last["epoch"]


def test_resume_continues_from_the_last_checkpoint(tmp_path, tone_labels, make_tiny_config):
    run = fit(make_tiny_config(tmp_path, tone_labels, "trainer.epochs=1"), tmp_path / "r", show_progress=False)
    first = torch.load(run / "fold-0/checkpoints/last.ckpt", weights_only=True)
    # pretend the run was stopped after epoch 1 of 2
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["trainer"]["epochs"] = 2
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    for done in (run / "metrics.json", run / "fold-0" / "metrics.json"):
        done.unlink()
    fit(None, run, resume=True, show_progress=False)
    second = torch.load(run / "fold-0/checkpoints/last.ckpt", weights_only=True)
    assert (first["epoch"], second["epoch"]) == (0, 1)
    assert second["global_step"] == 2 * first["global_step"]
    assert (run / "metrics.json").is_file()
    assert sorted(p.name for p in (run / "fold-0" / "logs").iterdir()) == ["version_0", "version_1"]


def test_bad_recordings_are_skipped_and_reported(tmp_path, tone_labels, make_tiny_config):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tone_labels.parent, data)
    (data / "audio" / "low_0.wav").write_bytes(b"")  # empty file
    (data / "audio" / "high_1.wav").write_bytes(b"RIFF\x00\x00garbage")  # corrupt
    labels = data / "labels.csv"
    labels.write_text(labels.read_text() + "audio/missing.wav,low,train\n")
    run = fit(make_tiny_config(tmp_path, labels, "trainer.epochs=1"), tmp_path / "r", show_progress=False)
    errors = pd.read_csv(run / "errors.csv")
    assert len(errors) == 3
    assert any("low_0.wav" in p for p in errors["path"]) and any("high_1.wav" in p for p in errors["path"])
    assert errors["reason"].str.len().min() > 5
    assert json.loads((run / "metrics.json").read_text())["n_skipped_recordings"] == 3


def test_kfold_scores_every_recording_once(tmp_path, tone_labels, make_tiny_config):
    cfg = make_tiny_config(tmp_path, tone_labels, "trainer.epochs=1", "data.split_column=null",
                           "folds.n_folds=2")
    run = fit(cfg, tmp_path / "k", show_progress=False)
    oof = pd.concat([pd.read_parquet(run / f"fold-{k}" / "oof.parquet") for k in (0, 1)])
    assert sorted(oof["recording_id"]) == sorted(pd.read_csv(tone_labels)["file"])
    summary = json.loads((run / "metrics.json").read_text())
    assert set(summary["folds"]) == {"fold-0", "fold-1"}
    assert summary["overall"]["n_samples"] == 12
    assert np.isfinite(summary["overall"]["lwlrap"])


def test_unknown_part_name_fails_before_training(tmp_path, tone_labels, make_tiny_config):
    from wildtag.config import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'attention'"):  # when the recipe is loaded
        make_tiny_config(tmp_path, tone_labels, "model.head.name=atention")
    assert not (tmp_path / "x").exists()
