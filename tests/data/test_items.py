from __future__ import annotations

import numpy as np
import pytest

from wildtag.data import WindowItem


def test_window_item_normalises_its_arrays():
    item = WindowItem("r", 1.0, 3.5, [1, np.nan], weight=[0.5, 1.0], band_hz=(100, 2000))
    assert item.target.dtype == np.float32 and item.weight.dtype == np.float32
    assert item.duration_s == 2.5 and item.band_hz == (100.0, 2000.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(t0_s=2.0, t1_s=2.0), r"'r' needs finite t0_s < t1_s, got 2.0..2.0"),
        (dict(target=np.zeros((2, 2))), r"one value per class \(K,\), got shape \(2, 2\)"),
        (dict(weight=np.ones(3)), r"weight has shape \(3,\), target has \(2,\)"),
        (dict(band_hz=(500.0, 100.0)), "f0_hz < f1_hz"),
    ],
)
def test_window_item_rejects_bad_values(kwargs, message):
    fields = dict(recording_id="r", t0_s=0.0, t1_s=1.0, target=np.zeros(2)) | kwargs
    with pytest.raises(ValueError, match=message):
        WindowItem(**fields)
