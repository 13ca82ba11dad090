import numpy as np
import pandas as pd
import pytest

from wildtag.config import ConfigError
from wildtag.labels import LabelError
from wildtag.metrics import row_f1_with_nocall
from wildtag.postprocess.thresholds import search_threshold, threshold_table, thresholds_for, with_nocall


def _brute_row_f1(true, pred, names):
    total = 0.0
    for t_row, p_row in zip(true, pred, strict=True):
        t = {n for n, v in zip(names, t_row, strict=True) if v} or {"nocall"}
        p = {n for n, v in zip(names, p_row, strict=True) if v} or {"nocall"}
        total += 2 * len(t & p) / (len(t) + len(p))
    return total / len(true)


def test_row_f1_with_nocall_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(50):
        true = rng.random((7, 4)) < 0.3
        pred = rng.random((7, 4)) < 0.3
        assert row_f1_with_nocall(true, pred) == pytest.approx(_brute_row_f1(true, pred, "abcd"))


def test_row_f1_rewards_a_correct_nocall():
    assert row_f1_with_nocall([[0, 0]], [[0, 0]]) == 1.0
    assert row_f1_with_nocall([[0, 0]], [[1, 0]]) == 0.0


def test_search_finds_the_known_optimum():
    # positives score 0.6..0.9, negatives 0.1..0.5 except one at 0.7: best cut lies in (0.5, 0.6]
    score = np.array([0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.5, 0.7])
    true = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0])
    best, grid, values = search_threshold(true, score, "f1")
    assert 0.5 < best <= 0.6
    brute = max(2 * ((score >= t) & (true == 1)).sum() / ((score >= t).sum() + 4) for t in score)
    assert values.max() == pytest.approx(brute)


def test_threshold_table_and_nocall():
    names = ["a", "b"]
    true = np.array([[1, 0], [0, 1], [0, 0], [1, 0]])
    score = np.array([[0.9, 0.1], [0.2, 0.4], [0.1, 0.05], [0.8, 0.2]])
    table = threshold_table(true, score, names, per_class=True)
    assert list(table["class"]) == ["*", "a", "b"]
    cuts = thresholds_for(table, names)
    out = with_nocall(pd.DataFrame(score, columns=names), names, cuts)
    assert list(out) == ["a", "b", "nocall", "a"]
    with pytest.raises(LabelError, match=r"t\.csv: no threshold for classes \['b'\]"):
        thresholds_for(pd.DataFrame({"class": ["a"], "threshold": [0.5]}), names, "t.csv")


def test_bad_metric_and_shapes_are_user_errors():
    with pytest.raises(ConfigError, match="did you mean 'f1'"):
        search_threshold(np.ones(3), np.ones(3), "f11")
    with pytest.raises(LabelError, match="differ in shape"):
        search_threshold(np.ones(3), np.ones(4))


def test_thresholds_command_writes_csv_and_png(tmp_path):
    import typer
    from typer.testing import CliRunner

    from wildtag.cli_postprocess import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # keep typer in multi-command mode
    oof = pd.DataFrame({"a": [0.9, 0.2, 0.7, 0.1], "target:a": [1.0, 0.0, 1.0, 0.0]})
    oof.to_parquet(tmp_path / "oof.parquet")
    result = CliRunner().invoke(app, ["thresholds", str(tmp_path / "oof.parquet"), "--out", str(tmp_path / "t"), "--per-class"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "t" / "thresholds.csv")
    assert list(table["class"]) == ["*", "a"]
    assert 0.2 < table["threshold"].iloc[0] <= 0.7
    assert (tmp_path / "t" / "thresholds.png").stat().st_size > 0


def _thresholds_app():
    import typer

    from wildtag.cli_postprocess import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    return app


def test_thresholds_of_a_run_directory_use_every_fold(tmp_path):
    from typer.testing import CliRunner

    # fold 0 alone puts the best cut between 0.2 and 0.3; with fold 1 the separable cut is above 0.6
    for k, (scores, truth) in enumerate([([0.9, 0.3, 0.2], [1, 1, 0]), ([0.65, 0.6, 0.1], [1, 0, 0])]):
        (tmp_path / "run" / f"fold-{k}").mkdir(parents=True)
        pd.DataFrame({"a": scores, "target:a": np.asarray(truth, float)}).to_parquet(
            tmp_path / "run" / f"fold-{k}" / "oof.parquet")
    result = CliRunner().invoke(_thresholds_app(), ["thresholds", str(tmp_path / "run"), "--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    pooled = pd.read_csv(tmp_path / "t" / "thresholds.csv")["threshold"].iloc[0]
    y = np.array([1, 1, 0, 1, 0, 0], bool)
    s = np.array([0.9, 0.3, 0.2, 0.65, 0.6, 0.1])
    assert _f1_at(y, s, pooled) == max(_f1_at(y, s, t) for t in s)


def _f1_at(y, s, t):
    pred = s >= t
    tp = (pred & y).sum()
    return 2 * tp / max(pred.sum() + y.sum(), 1)


def test_thresholds_of_predictions_against_clip_labels(tmp_path):
    from typer.testing import CliRunner

    pred = tmp_path / "pred"
    pred.mkdir()
    pd.DataFrame({"recording": ["x.wav", "y.wav", "z.wav", "w.wav"], "a": [0.8, 0.7, 0.4, 0.1],
                  "b": [0.1, 0.2, 0.9, 0.3]}).to_csv(pred / "recordings.csv", index=False)
    pd.DataFrame({"filename": ["x.wav", "y.wav", "z.wav", "w.wav"], "labels": ["a", "a", "b", ""]}).to_csv(
        tmp_path / "truth.csv", index=False)
    out = tmp_path / "t"
    result = CliRunner().invoke(_thresholds_app(), ["thresholds", str(pred), str(tmp_path / "truth.csv"),
                                                     "--out", str(out), "--per-class"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "thresholds.csv").set_index("class")["threshold"]
    assert 0.4 < table["a"] <= 0.7 and 0.3 < table["b"] <= 0.9
    assert 0.3 < table["*"] <= 0.7


def test_thresholds_of_predictions_without_labels_say_what_is_needed(tmp_path):
    from typer.testing import CliRunner

    pd.DataFrame({"recording": ["x.wav"], "a": [0.8]}).to_parquet(tmp_path / "windows.parquet")
    result = CliRunner().invoke(_thresholds_app(), ["thresholds", str(tmp_path / "windows.parquet"),
                                                     "--out", str(tmp_path / "t")])
    assert result.exit_code != 0
    assert "LABELS" in str(result.exception) or "LABELS" in result.output
