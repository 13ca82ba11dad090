import base64
import re

import pytest

from wildtag.errors import ModelLoadError
from wildtag.report import per_class_validation, training_log, write_report


def test_the_report_shows_each_folds_curves_the_per_class_table_and_the_card(tiny_run, tmp_path, monkeypatch):
    import wildtag.cli as cli

    out = tmp_path / "report.html"
    monkeypatch.setattr("sys.argv", ["wildtag", "report", str(tiny_run), "--out", str(out)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 0
    page = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(list(tiny_run.glob("fold-*")))
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    table = per_class_validation(tiny_run)
    assert list(table["class"]) == ["high", "low"]
    for name in ("high", "low"):
        assert f"<td>{name}</td>" in page
    assert "&quot;class_names&quot;" in page and "Out-of-fold metrics" in page
    log = training_log(tiny_run / "fold-0")
    assert {0, 1, 2} <= set(log["epoch"]) and log["valid/loss"].notna().sum() >= 3  # one row per epoch


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no fold-K folders"):
        write_report(tmp_path)
