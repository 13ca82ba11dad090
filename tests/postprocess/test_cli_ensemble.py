import json

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
