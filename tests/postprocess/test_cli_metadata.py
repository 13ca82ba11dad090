"""``wildtag train-metadata`` / ``predict-metadata``: OOF scores, a pickle-free run directory, the blend."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from wildtag.cli_postprocess import register
from wildtag.labels import LabelError
from wildtag.metrics import lwlrap
from wildtag.postprocess.metadata import MetadataModel


@pytest.fixture
def app():
    app = typer.Typer()
    register(app)
    return app


def _ok(app, *args):
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def survey(tmp_path):
    """200 recordings: 'north' calls where latitude > 0, 'summer' ones between day 150 and 250 (from a date)."""
    rng = np.random.default_rng(0)
    n = 200
    lat = rng.uniform(-40, 40, n)
    day = rng.integers(1, 365, n)
    dates = pd.Timestamp("2021-01-01") + pd.to_timedelta(day - 1, unit="D")
    labels = [",".join(x for x, on in (("north", la > 0), ("summer", 150 <= d <= 250)) if on)
              for la, d in zip(lat, day, strict=True)]
    table = pd.DataFrame({"file": [f"site/r{i}.wav" for i in range(n)], "label": labels, "latitude": lat,
                          "date": dates.strftime("%Y-%m-%d"), "habitat": rng.choice(["wood", "field"], n)})
    table.to_csv(tmp_path / "labels.csv", index=False)
    y = np.stack([lat > 0, (day >= 150) & (day <= 250)], axis=1).astype(float)
    audio = np.clip(0.35 * y + rng.uniform(0, 0.65, y.shape), 0, 1)  # a weak audio model
    pred = tmp_path / "audio"
    pred.mkdir()
    pd.DataFrame({"recording": [f"r{i}.wav" for i in range(n)], "north": audio[:, 0], "summer": audio[:, 1]}
                 ).to_csv(pred / "recordings.csv", index=False)
    return tmp_path, table, y, audio


def test_location_and_season_are_learnt_out_of_fold_and_saved_without_pickle(app, survey):
    tmp, table, y, _ = survey
    out = tmp / "meta"
    _ok(app, "train-metadata", tmp / "labels.csv", "--features", "latitude,day_of_year", "--categorical", "habitat",
        "--n-folds", 4, "--max-iter", 40, "--out", out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["oof"]["lwlrap"] > 0.9
    assert {p.suffix for p in out.rglob("*") if p.is_file()} <= {".json", ".parquet", ".csv"}
    oof = pd.read_parquet(out / "oof.parquet")
    classes = ["north", "summer"]
    assert lwlrap(oof[[f"target:{c}" for c in classes]].to_numpy(), oof[classes].to_numpy()) == pytest.approx(
        metrics["oof"]["lwlrap"])
    rows = pd.DataFrame({"recording": ["n", "s"], "latitude": [30.0, -30.0], "date": ["2022-07-01", "2022-01-10"],
                         "habitat": ["wood", "marsh"]})  # an unseen habitat counts as missing
    first, again = MetadataModel.load(out).predict(rows), MetadataModel.load(out).predict(rows)
    np.testing.assert_array_equal(first, again)  # the refit on load is deterministic
    assert first[0, 0] > 0.8 > 0.2 > first[1, 0] and first[0, 1] > 0.8 > 0.2 > first[1, 1]
    rows.to_csv(tmp / "new.csv", index=False)
    _ok(app, "predict-metadata", out, tmp / "new.csv", "--out", tmp / "prior")
    np.testing.assert_allclose(pd.read_csv(tmp / "prior" / "prior.csv")[classes].to_numpy(), first)


def test_blend_weight_default_and_fitted_on_oof(app, survey):
    tmp, _, y, audio = survey
    args = ["train-metadata", tmp / "labels.csv", "--features", "latitude,day_of_year", "--n-folds", 4,
            "--max-iter", 40, "--blend-with", tmp / "audio"]
    _ok(app, *args, "--out", tmp / "fixed")
    fixed = json.loads((tmp / "fixed" / "blend.json").read_text())
    assert fixed["weight"] == 0.14 and fixed["n_recordings"] == 200
    meta = pd.read_csv(tmp / "fixed" / "recordings.csv")[["north", "summer"]].to_numpy()
    blended = pd.read_csv(tmp / "fixed" / "blend" / "recordings.csv")[["north", "summer"]].to_numpy()
    np.testing.assert_allclose(blended, 0.86 * audio + 0.14 * meta)
    _ok(app, *args, "--fit-blend", "--out", tmp / "fitted")
    fitted = json.loads((tmp / "fitted" / "blend.json").read_text())
    assert fitted["weight"] > 0.14 and fitted["blend_lwlrap"] >= fixed["blend_lwlrap"] > fixed["audio_lwlrap"]


def test_folds_come_from_the_audio_run(app, survey, tmp_path):
    tmp, table, _, _ = survey
    run = tmp / "audio_run"
    run.mkdir()
    folds = pd.DataFrame({"recording_id": table["file"], "fold": np.arange(len(table)) % 3, "path": ""})
    folds.to_csv(run / "folds.csv", index=False)
    (run / "classes.json").write_text(json.dumps(["summer", "north"]))
    _ok(app, "train-metadata", tmp / "labels.csv", "--features", "latitude", "--folds-from", run, "--max-iter", 10,
        "--out", tmp / "meta")
    train = pd.read_parquet(tmp / "meta" / "train.parquet")
    assert train["fold"].tolist() == folds["fold"].tolist()
    assert list(pd.read_parquet(tmp / "meta" / "oof.parquet").columns[1:3]) == ["summer", "north"]


def test_an_unknown_feature_names_the_closest_column(app, survey):
    tmp, _, _, _ = survey
    result = CliRunner().invoke(app, ["train-metadata", str(tmp / "labels.csv"), "--features", "latitud",
                                      "--out", str(tmp / "m")])
    assert isinstance(result.exception, LabelError) and "latitude" in str(result.exception)
