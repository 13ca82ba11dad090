import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from wildtag import cli
from wildtag.evaluation import evaluate_files
from wildtag.metrics import lwlrap

runner = CliRunner()


def run(*args: str):
    """Invoke the CLI as the console script does (errors mapped to one line, exit 2)."""
    try:
        result = runner.invoke(cli.app, list(args), catch_exceptions=False)
        return result.exit_code, result.output
    except SystemExit as exit_:  # pragma: no cover - typer exits through SystemExit
        return exit_.code, ""


@pytest.fixture
def clip_case(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("fname,labels\na.wav,\"bird,frog\"\nb.wav,frog\nc.wav,insect\n")
    preds = tmp_path / "recordings.csv"
    pd.DataFrame({
        "recording": ["x/a.wav", "x/b.wav", "x/c.wav", "x/unlabelled.wav"],
        "bird": [0.9, 0.2, 0.1, 0.5], "frog": [0.3, 0.8, 0.6, 0.5], "insect": [0.1, 0.1, 0.4, 0.5],
    }).to_csv(preds, index=False)
    return preds, labels


def test_evaluate_matches_metrics_on_arrays(clip_case):
    preds, labels = clip_case
    result = evaluate_files(preds, labels)
    y_true = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    y_score = np.array([[0.9, 0.3, 0.1], [0.2, 0.8, 0.1], [0.1, 0.6, 0.4]])
    assert result.metrics["lwlrap"] == pytest.approx(lwlrap(y_true, y_score))
    assert result.n_unmatched == 1
    assert list(result.per_class["class"]) == ["bird", "frog", "insect"]


def test_evaluate_command_writes_json(clip_case, tmp_path):
    preds, labels = clip_case
    code, output = run("evaluate", str(preds), str(labels), "--out", str(tmp_path / "m.json"))
    assert code == 0, output
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["lwlrap"] == pytest.approx(evaluate_files(preds, labels).metrics["lwlrap"])
    assert "lwlrap" in output


def test_evaluate_windows_against_raven_boxes(tmp_path):
    table = tmp_path / "rec1.Table.1.selections.txt"
    table.write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
        "1\tSpectrogram 1\t1\t1.2\t1.8\t500\t900\tfrog\n"
        "2\tSpectrogram 1\t1\t3.1\t3.9\t2000\t4000\tbird\n"
    )
    windows = pd.DataFrame({
        "recording": ["rec1.wav"] * 4, "t0_s": [0.0, 1.0, 2.0, 3.0], "t1_s": [1.0, 2.0, 3.0, 4.0],
        "bird": [0.1, 0.2, 0.1, 0.9], "frog": [0.2, 0.8, 0.3, 0.1],
    })
    windows.to_parquet(tmp_path / "windows.parquet")
    result = evaluate_files(tmp_path / "windows.parquet", table)
    assert result.metrics["map_macro"] == pytest.approx(1.0)
    assert result.metrics["n_samples"] == 4


def test_bad_recipe_is_one_line_with_exit_code_2(tmp_path, monkeypatch, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: {labels: x.csv}\ntrainer: {epoch: 3}\n")
    monkeypatch.setattr("sys.argv", ["wildtag", "train", str(recipe)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "did you mean 'epochs'" in err and "Traceback" not in err


def test_list_shows_registered_parts():
    code, output = run("list", "head")
    assert code == 0
    assert {"attention", "concat_pool", "linear"} <= set(output.split())
    code, output = run("list", "mixer")
    assert set(output.split()) == {"mixover", "mixup", "or_mixup"}
    code, output = run("list", "backbone", "resnet1*")
    assert "resnet18" in output.split() and "tiny_cnn" not in output.split()


def test_recording_ids_with_dots_still_match():
    from wildtag.evaluation import _key

    assert _key("audio/XC1-2013.01.08-A.flac") == _key("XC1-2013.01.08-A") == "XC1-2013.01.08-A"
