from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wildtag.data import FOLD_STRATEGIES, RareClassWarning, assign_folds
from wildtag.labels import ClassMap


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
    assert FOLD_STRATEGIES.list() == ["group", "multilabel", "random", "stratified"]
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
