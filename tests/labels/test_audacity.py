from __future__ import annotations

import pytest

from wildtag.labels import LabelError, make_events, write_audacity


def test_label_track_lines_with_bands(tmp_path):
    events = make_events(
        [
            {"recording_id": "r", "t0_s": 1.5, "t1_s": 2.25, "label": "wren"},
            {
                "recording_id": "r",
                "t0_s": 3.0,
                "t1_s": 4.0,
                "f0_hz": 2000.0,
                "f1_hz": 8000.0,
                "label": "robin",
                "present": False,
            },
        ]
    )
    path = write_audacity(events, tmp_path / "r.txt")
    assert path.read_text().splitlines() == [
        "1.5\t2.25\twren",
        "3.0\t4.0\trobin (absent)",
        "\\\t2000.0\t8000.0",
    ]


def test_one_recording_per_track(tmp_path):
    events = make_events([{"recording_id": r, "t0_s": 0.0, "t1_s": 1.0, "label": "x"} for r in ("a", "b")])
    with pytest.raises(LabelError, match="2 recordings"):
        write_audacity(events, tmp_path / "ab.txt")
    assert not (tmp_path / "ab.txt").exists()
