from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from wildtag import cli

from .conftest import write_tone

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    try:
        result = runner.invoke(cli.app, list(args), catch_exceptions=False)
        return result.exit_code, result.output
    except SystemExit as exit_:
        return int(exit_.code or 0), ""


def test_embed_then_search_from_the_command_line(tmp_path, tiny_onnx, monkeypatch):
    survey = tmp_path / "survey"
    for i, freq in enumerate((300.0, 1200.0)):
        write_tone(survey / f"rec_{i}.wav", freq, seconds=3.0, seed=i)
    code, output = run("embed", str(tiny_onnx), str(survey), "--out", str(tmp_path / "emb"), "--sample-rate", "8000",
                       "--window-s", "1.0", "--output-name", "embedding", "--workers", "0", "--quiet")
    assert code == 0, output
    code, output = run("embed", str(tiny_onnx), str(survey), "--out", str(tmp_path / "emb"), "--sample-rate", "8000",
                       "--window-s", "1.0", "--output-name", "embedding", "--workers", "0", "--quiet")
    assert code == 0 and "0 recording(s) (2 already in the store)" in output.replace("\n", " ")

    monkeypatch.chdir(tmp_path)
    code, output = run("search", str(tmp_path / "emb"), str(survey / "rec_1.wav"), "--t0", "1", "--t1", "2", "-k", "3")
    assert code == 0, output
    hits = pd.read_csv(tmp_path / "hits.csv")
    assert len(hits) == 3 and hits["recording"].iloc[0] == "rec_1.wav" and hits["t0_s"].iloc[0] == 1.0
    assert (tmp_path / "hits.selections.txt").read_text().count("\n") == 4


def test_an_onnx_model_without_its_rate_is_a_one_line_error(tmp_path, tiny_onnx, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["wildtag", "embed", str(tiny_onnx), str(tmp_path), "--out", str(tmp_path / "e")])
    try:
        cli.main()
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--sample-rate and --window-s" in err
