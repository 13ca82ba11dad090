import json

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from wildtag.cli_postprocess import register


def test_ensemble_command_averages_recordings(tmp_path):
    app = typer.Typer()
    register(app)
    for name, score in (("p1", [0.2, 0.8]), ("p2", [0.4, 0.6])):
        (tmp_path / name).mkdir()
        pd.DataFrame({"recording": ["x", "y"], "a": score}).to_csv(tmp_path / name / "recordings.csv", index=False)
    args = ["ensemble", str(tmp_path / "p1"), str(tmp_path / "p2"), "--out", str(tmp_path / "e")]
    result = CliRunner().invoke(app, [*args, "--method", "weighted", "--weights", "3,1"])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "e" / "recordings.csv")
    assert out["a"].tolist() == pytest.approx([0.25, 0.75])
    assert json.loads((tmp_path / "e" / "ensemble.json").read_text())["weights"] == [3.0, 1.0]
    bad = CliRunner().invoke(app, [*args, "--method", "weighted"])
    assert bad.exit_code != 0


def test_weights_fitted_on_oof_beat_the_mean_and_are_written_down(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"r{i}.wav" for i in range(120)]
    y = (rng.random((120, 2)) < 0.4).astype(float)
    models = {"good": y + rng.normal(0, 0.3, y.shape), "loud": rng.normal(0, 3.0, y.shape)}
    oofs, preds = [], []
    for name, scores in models.items():
        oof = pd.DataFrame({"recording_id": ids, "a": scores[:, 0], "b": scores[:, 1],
                            "target:a": y[:, 0], "target:b": y[:, 1]}).sample(frac=1, random_state=1)
        oofs.append(tmp_path / f"{name}.parquet")
        oof.to_parquet(oofs[-1])
        preds.append(tmp_path / name)
        preds[-1].mkdir()
        pd.DataFrame({"recording": ["t1", "t2"], "a": scores[:2, 0], "b": scores[:2, 1]}).to_csv(
            preds[-1] / "recordings.csv", index=False)
    app = typer.Typer()
    register(app)
    args = ["ensemble", *map(str, preds), "--out", str(tmp_path / "e"), "--metric", "lwlrap"]
    result = CliRunner().invoke(app, [*args, "--fit-weights", str(oofs[0]), "--fit-weights", str(oofs[1])])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "e" / "ensemble.json").read_text())
    w = record["weights"]
    assert record["method"] == "weighted" and w[0] > w[1] and sum(w) == pytest.approx(1.0)
    assert record["fitted_on"]["fitted"] > record["fitted_on"]["mean"] + 0.05
    out = pd.read_csv(tmp_path / "e" / "recordings.csv")
    expected = w[0] * models["good"][:2] + w[1] * models["loud"][:2]
    np.testing.assert_allclose(out[["a", "b"]].to_numpy(), expected)
    bad = CliRunner().invoke(app, [*args, "--fit-weights", str(oofs[0])])
    assert bad.exit_code != 0 and "one out-of-fold source per input" in str(bad.exception)
