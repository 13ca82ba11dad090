from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from wildtag.config import ConfigError
from wildtag.data import FOLD_STRATEGIES, RareClassWarning, assign_folds
from wildtag.data.folds import geo_time_blocks
from wildtag.labels import ClassMap, LabelError


def _clips(n_per_class: dict[str, int], seed: int = 0) -> pd.DataFrame:
    labels = [name for name, n in n_per_class.items() for _ in range(n)]
    order = np.random.default_rng(seed).permutation(len(labels))
    return pd.DataFrame({"recording_id": [f"rec{i}" for i in range(len(labels))],
                         "labels": [[labels[i]] for i in order]})  # fmt: skip


def _per_fold_counts(labels, folds, n_folds) -> pd.DataFrame:
    return pd.crosstab(pd.Series(labels, name="label"), pd.Series(folds, name="fold")).reindex(
        columns=range(n_folds), fill_value=0
    )


def test_strategies_are_registered():
    assert FOLD_STRATEGIES.list() == ["geo_time_block", "group", "multilabel", "predefined", "random", "stratified"]
    with pytest.raises(KeyError, match="stratified"):
        assign_folds(_clips({"a": 10}), 2, strategy="stratifed")


@pytest.mark.parametrize("strategy", ["random", "stratified", "multilabel"])
def test_every_row_is_in_exactly_one_fold(strategy):
    table = _clips({"a": 13, "b": 9, "c": 6})
    folds = assign_folds(table, 3, strategy=strategy, seed=1)
    assert folds.shape == (28,) and folds.dtype == np.int64
    assert set(folds.tolist()) == {0, 1, 2}
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 2


def test_stratified_keeps_each_class_balanced_within_one():
    table = _clips({"a": 17, "b": 11, "c": 5, "d": 23})
    folds = assign_folds(table, 5, strategy="stratified", seed=2)
    counts = _per_fold_counts([x[0] for x in table["labels"]], folds, 5)
    assert ((counts.max(axis=1) - counts.min(axis=1)) <= 1).all()


def test_seed_changes_the_assignment_reproducibly():
    table = _clips({"a": 20, "b": 20})
    assert np.array_equal(assign_folds(table, 4, seed=0), assign_folds(table, 4, seed=0))
    assert not np.array_equal(assign_folds(table, 4, seed=0), assign_folds(table, 4, seed=1))


def test_rare_classes_warn_by_default_or_raise():
    table = _clips({"a": 12, "rare": 2})
    with pytest.warns(RareClassWarning, match=r"'rare' \(2\)"):
        folds = assign_folds(table, 4)
    rare_folds = folds[[x[0] == "rare" for x in table["labels"]]]
    assert len(set(rare_folds.tolist())) == 2  # its two rows in different folds
    with pytest.raises(ValueError, match=r"fewer rows than the 4 folds.*'rare' \(2\).*strategy='random'"):
        assign_folds(table, 4, rare_classes="error")
    with pytest.raises(ValueError, match="cannot make 4 folds from 3 rows"):
        assign_folds(_clips({"a": 3}), 4)


@pytest.mark.parametrize("strategy", ["random", "stratified", "multilabel", "group"])
def test_groups_are_never_split(strategy):
    rng = np.random.default_rng(3)
    sites = [f"site{i}" for i in rng.integers(0, 12, size=120)]
    labels = [[str(x)] for x in rng.choice(["a", "b", "c"], size=120)]
    table = pd.DataFrame({"site": sites, "labels": labels})
    folds = assign_folds(table, 4, strategy=strategy, group_column="site", seed=0)
    per_site = pd.Series(folds).groupby(pd.Series(sites)).nunique()
    assert (per_site == 1).all()
    assert set(folds.tolist()) == {0, 1, 2, 3}


def test_group_strategy_without_labels_and_its_errors():
    table = pd.DataFrame({"recording_id": [f"r{i // 3}" for i in range(30)]})
    folds = assign_folds(table, 5, strategy="group", group_column="recording_id")
    assert (pd.Series(folds).groupby(table["recording_id"]).nunique() == 1).all()
    assert sorted(np.bincount(folds).tolist()) == [6, 6, 6, 6, 6]
    with pytest.raises(ValueError, match="needs group_column"):
        assign_folds(table, 5, strategy="group")
    with pytest.raises(ValueError, match="from 10 distinct 'recording_id' groups"):
        assign_folds(table, 11, strategy="group", group_column="recording_id")
    with pytest.raises(ValueError, match="group_column 'site' is not a column"):
        assign_folds(table, 5, strategy="group", group_column="site")


def test_multilabel_folds_cover_every_label():
    rng = np.random.default_rng(4)
    names = [f"sp{i}" for i in range(8)]
    rows = [list(rng.choice(names, size=rng.integers(1, 4), replace=False)) for _ in range(80)]
    for name in names:  # every label on at least 5 rows
        rows.extend([[name]] * 5)
    table = pd.DataFrame({"labels": rows})
    folds = assign_folds(table, 5, strategy="multilabel", class_map=ClassMap(names), seed=0)
    for fold in range(5):
        seen = {name for row in table["labels"][folds == fold] for name in row}
        assert seen == set(names)
    with pytest.raises(ValueError, match="label 'sp7'.*not in the class map"):
        assign_folds(table, 5, strategy="multilabel", class_map=ClassMap(names[:7]))


def test_event_table_string_labels_grouped_by_recording(make_events):
    events = make_events([(f"r{i % 7}", 1.0, 2.0, "ab"[i % 2], True) for i in range(28)])
    folds = assign_folds(events, 3, label_column="label", group_column="recording_id")
    assert (pd.Series(folds).groupby(events["recording_id"]).nunique() == 1).all()


def test_insectset32_stratified_folds(shared_data):
    table = pd.read_csv(shared_data / "insectset32/labels.csv")
    folds = assign_folds(table, 3, strategy="stratified", label_column="species", seed=0)
    assert len(folds) == len(table) == 256
    counts = _per_fold_counts(table["species"], folds, 3)
    assert len(counts) == 32
    assert ((counts.max(axis=1) - counts.min(axis=1)) <= 1).all()
    assert (counts.min(axis=1) >= 1).all()  # every species (3 to 18 files) in every fold
    # Five folds are more than the rarest species have files: warned, and still spread out.
    n_rare = int((table["species"].value_counts() < 5).sum())
    with pytest.warns(
        RareClassWarning, match=rf"{n_rare} class\(es\) have fewer rows than the 5 folds"
    ) as seen:
        five = assign_folds(table, 5, strategy="stratified", label_column="species")
    assert seen[0].filename == __file__  # the warning points at the caller
    counts5 = _per_fold_counts(table["species"], five, 5)
    assert ((counts5.max(axis=1) - counts5.min(axis=1)) <= 1).all()


# --- geo_time_block ------------------------------------------------------------------------------------


def _survey(n: int, seed: int = 0) -> pd.DataFrame:
    """Metadata of ``n`` recordings scattered over three continents and all months, as in BirdCLEF."""
    rng = np.random.default_rng(seed)
    centres = np.array([[45.0, -100.0], [-15.0, -60.0], [50.0, 10.0]])
    where = centres[rng.integers(0, 3, n)] + rng.normal(0.0, 8.0, (n, 2))
    ymd = zip(rng.integers(2000, 2021, n), rng.integers(1, 13, n), rng.integers(1, 29, n), strict=True)
    return pd.DataFrame({
        "recording_id": [f"xc{i}" for i in range(n)],
        "latitude": where[:, 0], "longitude": where[:, 1],
        "date": [f"{y}-{m:02d}-{d:02d}" for y, m, d in ymd],
        "labels": [[str(x)] for x in rng.choice(["wren", "robin", "tit"], n)],
    })  # fmt: skip


def _expected_block(lat: float, lon: float, date: str, cell_deg: float) -> tuple[int, int, int]:
    month = int(date[5:7])
    return (int(np.floor(lat / cell_deg)), int(np.floor(lon / cell_deg)), (month - 1) // 3 + 1)


@pytest.mark.parametrize("cell_deg", [10.0, 4.0])
def test_geo_time_blocks_are_never_split_and_folds_balanced(cell_deg):
    table = _survey(600)
    folds = assign_folds(table, 5, strategy="geo_time_block", cell_deg=cell_deg, seed=0)
    assert folds.shape == (600,) and set(folds.tolist()) == {0, 1, 2, 3, 4}
    places = table[["latitude", "longitude", "date"]].itertuples(index=False)
    expected = [_expected_block(*row, cell_deg) for row in places]
    per_block = pd.Series(folds).groupby(pd.Series(expected)).nunique()
    assert len(per_block) > 20 and (per_block == 1).all()
    largest_block = pd.Series(expected).value_counts().max()
    sizes = np.bincount(folds, minlength=5)
    assert sizes.max() - sizes.min() <= largest_block


def test_a_block_is_one_grid_cell_in_one_quarter_of_the_year():
    table = pd.DataFrame({
        "latitude": [5.0, 9.9, 10.0, 5.0, -0.1, -9.9, 5.0, 5.0],
        "longitude": [5.0, 0.1, 5.0, 5.0, 5.0, 9.0, 5.0, 5.0],
        "date": ["2019-01-03", "2004-03-31", "2019-01-03", "2019-04-01", "2019-02-01", "2019-03-01",
                 "2015-12-24", "2021-10-05"],
    })  # fmt: skip
    blocks = geo_time_blocks(table, "latitude", "longitude", "date", 10.0)
    assert blocks[0] == blocks[1]  # same 10-degree cell, January and March: Q1
    assert blocks[2] != blocks[0]  # latitude 10.0 starts the next cell
    assert blocks[3] != blocks[0]  # April: Q2
    assert blocks[4] == blocks[5] != blocks[0]  # south of the equator: cell -1
    assert blocks[6] == blocks[7] != blocks[0]  # December and October: Q4, years ignored
    assert len(set(blocks.tolist())) == 5


def test_greedy_fill_puts_the_largest_blocks_first_into_the_smallest_fold():
    sizes = [50, 30, 20, 20, 10]
    rows = [(10.0 * b + 1.0, 1.0, "2020-05-01") for b, n in enumerate(sizes) for _ in range(n)]
    table = pd.DataFrame(rows, columns=["latitude", "longitude", "date"])
    for seed in range(5):
        folds = assign_folds(table, 2, strategy="geo_time_block", seed=seed)
        # 50 | 30 -> 30+20 = 50 | 50 -> either gets 20 (70) -> the other gets 10 (60)
        assert sorted(np.bincount(folds).tolist()) == [60, 70]
        assert folds[0] != folds[50]  # the two largest blocks start different folds


def test_rows_without_place_or_date_are_spread_as_their_own_blocks():
    table = _survey(200, seed=1)
    table.loc[0:9, "latitude"] = np.nan
    table.loc[10:19, "longitude"] = np.nan
    table["date"] = table["date"].astype(object)
    table.loc[20:29, "date"] = None
    table.loc[30:34, "date"] = "0000-00-00"  # BirdCLEF's unknown date
    table.loc[35:39, "date"] = "2015-00-00"  # year known, month not
    missing = np.arange(40)
    blocks = geo_time_blocks(table, "latitude", "longitude", "date", 10.0)
    assert len(set(blocks[missing].tolist())) == 40  # one block each
    assert not set(blocks[missing].tolist()) & set(blocks[40:].tolist())
    folds = assign_folds(table, 4, strategy="geo_time_block", seed=3)
    assert (folds >= 0).all()
    assert set(folds[missing].tolist()) == {0, 1, 2, 3}
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1  # the singletons fill the folds up evenly
    assert not np.array_equal(
        folds[missing], assign_folds(table, 4, strategy="geo_time_block", seed=4)[missing]
    )


def test_dates_may_be_timestamps_or_partial_iso_text():
    table = _survey(120, seed=2)
    as_text = assign_folds(table, 3, strategy="geo_time_block", seed=0)
    stamps = table.assign(date=pd.to_datetime(table["date"]))
    assert np.array_equal(as_text, assign_folds(stamps, 3, strategy="geo_time_block", seed=0))
    day_unknown = table.assign(date=[d[:8] + "00" for d in table["date"]])  # "2019-05-00": still May
    assert np.array_equal(as_text, assign_folds(day_unknown, 3, strategy="geo_time_block", seed=0))


def test_group_column_merges_blocks_that_share_a_group():
    table = _survey(300, seed=5)
    # A recorder moved between two far-apart places: its rows must stay in one fold anyway.
    table["site"] = [f"s{i}" for i in range(300)]
    table.loc[[0, 150], "site"] = "travelling"
    table.loc[150, ["latitude", "longitude"]] = (-table.loc[0, "latitude"], table.loc[0, "longitude"] + 90)
    for seed in range(4):
        folds = assign_folds(table, 4, strategy="geo_time_block", group_column="site", seed=seed)
        assert folds[0] == folds[150]


def test_geo_time_block_errors_name_columns_and_rows():
    table = _survey(50)
    with pytest.raises(ValueError, match=r"needs column\(s\) \['lat', 'when'\].*lat_column="):
        assign_folds(table, 3, strategy="geo_time_block", lat_column="lat", date_column="when")
    bad_lat = table.assign(
        latitude=table["latitude"].astype(str), source=[f"meta.csv:{i + 2}" for i in range(50)]
    )
    bad_lat.loc[7, "latitude"] = "north"
    with pytest.raises(LabelError, match=r"meta\.csv:9: 'latitude' is 'north'; expected a latitude"):
        assign_folds(bad_lat, 3, strategy="geo_time_block")
    far_east = table.assign(longitude=[200.0 if i == 3 else x for i, x in enumerate(table["longitude"])])
    with pytest.raises(LabelError, match=r"row 3: 'longitude' is 200\.0"):
        assign_folds(far_east, 3, strategy="geo_time_block")
    bad_date = table.assign(date=["spring" if i == 4 else d for i, d in enumerate(table["date"])])
    with pytest.raises(LabelError, match=r"row 4: 'date' is 'spring'; expected a date"):
        assign_folds(bad_date, 3, strategy="geo_time_block")
    with pytest.raises(LabelError, match=r"row 0: 'date' is '2019-13-01'"):
        assign_folds(
            table.assign(date=["2019-13-01"] + list(table["date"][1:])), 3, strategy="geo_time_block"
        )
    one_place = table.assign(latitude=1.0, longitude=1.0, date="2020-01-01")
    with pytest.raises(ValueError, match="cannot make 3 folds from 1 geo/time blocks"):
        assign_folds(one_place, 3, strategy="geo_time_block")
    with pytest.raises(ValueError, match="cell_deg must be a positive"):
        assign_folds(table, 3, strategy="geo_time_block", cell_deg=0.0)


def test_predefined_folds_keep_the_given_numbers_without_rare_class_warnings():
    table = _clips({"common": 8, "rare": 1})
    table["fold"] = [1, 2, 3, 1, 2, 3, 1, 2, 3]  # ESC-50 style, 1-based
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a rare class is no warning: the folds are given
        folds = assign_folds(table, 5, strategy="predefined", column="fold")
    assert folds.tolist() == table["fold"].tolist()
    assert "predefined" in FOLD_STRATEGIES


def test_predefined_folds_name_a_bad_cell_and_a_split_recording():
    table = pd.DataFrame({"recording_id": ["a", "a", "b"], "labels": [["x"]] * 3, "fold": [0, 1, 1],
                          "source": ["f.csv:2", "f.csv:3", "f.csv:4"]})  # fmt: skip
    with pytest.raises(ConfigError, match=r"group 'a' has rows in folds \[0, 1\]"):
        assign_folds(table, 2, strategy="predefined", column="fold", group_column="recording_id")
    table["fold"] = ["0", "one", "1"]
    with pytest.raises(LabelError, match="fold column 'fold' is 'one'") as caught:
        assign_folds(table, 2, strategy="predefined", column="fold")
    assert caught.value.row == 3
    with pytest.raises(ConfigError, match="needs folds.column"):
        assign_folds(table, 2, strategy="predefined")


def test_split_folds_with_predefined_folds_holds_out_exactly_fold_k():
    from wildtag.audio import Recording, RecordingSet
    from wildtag.config import config_from_dict
    from wildtag.training.fit import split_folds
    from wildtag.training.prepare import LabelledData

    table = _clips({"x": 3, "y": 3})
    table["fold"] = [4, 0, 4, 0, 2, 2]
    recordings = RecordingSet(Recording(r, f"{r}.wav", 8000, 1, 1.0) for r in table["recording_id"])
    data = LabelledData("clips", table, ClassMap(["x", "y"]), recordings)
    cfg = config_from_dict({"data": {"labels": "l.csv"}, "folds": {"strategy": "predefined", "column": "fold"}})
    splits = split_folds(cfg, data)
    assert sorted(splits) == [0, 2, 4]
    train, valid = splits[0]
    assert valid["recording_id"].tolist() == ["rec1", "rec3"]
    assert set(train["fold"]) == {2, 4}
