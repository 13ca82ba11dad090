import numpy as np
import pandas as pd
import pytest

from wildtag.config import ConfigError
from wildtag.metrics import lwlrap
from wildtag.postprocess.metadata import blend, oof_predict


def test_location_signal_is_learnt_out_of_fold():
    rng = np.random.default_rng(0)
    n = 200
    lat = rng.uniform(-40, 40, n)
    table = pd.DataFrame({"lat": lat, "day_of_year": rng.integers(1, 365, n)})
    targets = np.stack([lat > 0, lat <= 0], axis=1).astype(float)  # class a lives in the north
    folds = np.arange(n) % 4
    meta = oof_predict(table, targets, ["lat", "day_of_year"], folds, max_iter=30)
    assert lwlrap(targets, meta) > 0.95
    audio = rng.random((n, 2))
    assert lwlrap(targets, blend(audio, meta, 0.5)) > lwlrap(targets, audio)


def test_a_blend_weight_outside_0_1_is_a_user_error():
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        blend(np.zeros(2), np.ones(2), 1.5)
