"""Cross-validation folds: a fold id per table row, never splitting a group (recording, site) across folds.

    >>> folds = assign_folds(clips, 5, strategy="stratified", group_column="recording_id")
    >>> train, valid = clips[folds != 0], clips[folds == 0]

Strategies (``FOLD_STRATEGIES``): ``random`` (KFold), ``stratified`` (StratifiedKFold on the primary
label), ``multilabel`` (iterstrat's MultilabelStratifiedKFold on multi-hot labels), ``group``
(StratifiedGroupKFold on the primary label, or GroupKFold when the table has no label column),
``geo_time_block`` (whole blocks of nearby places and the same quarter of the year, see
:func:`geo_time_block_folds`), ``predefined`` (a published fold column: fold k is the rows whose
``column`` is k, see :func:`predefined_folds`). With ``group_column`` every strategy keeps each group's
rows in one fold.

Rare classes: a class with fewer rows (or groups) than ``n_folds`` cannot be in every fold. By default
:func:`assign_folds` warns, naming those classes, and goes on: its rows still land in different folds.
Pass ``rare_classes="error"`` to stop instead.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from wildtag.config import ConfigError  # the labels and the fold settings disagree: the user's to fix
from wildtag.data.targets import row_error
from wildtag.labels.names import label_list
from wildtag.registry import Registry

if TYPE_CHECKING:
    from wildtag.labels import ClassMap

FOLD_STRATEGIES: Registry[np.ndarray] = Registry("fold strategy")

_NO_LABEL = "<no label>"


class RareClassWarning(UserWarning):
    """Some class has fewer rows (or groups) than folds, so some validation folds lack it."""


def assign_folds(
    table: pd.DataFrame,
    n_folds: int,
    *,
    strategy: str = "stratified",
    label_column: str = "labels",
    group_column: str | None = None,
    class_map: ClassMap | None = None,
    seed: int = 0,
    rare_classes: Literal["warn", "error"] = "warn",
    lat_column: str = "latitude",
    lon_column: str = "longitude",
    date_column: str = "date",
    cell_deg: float = 10.0,
    column: str | None = None,
) -> np.ndarray:
    """Fold id (int64, 0..n_folds-1) for every row of ``table``.

    ``label_column`` holds a label (str) or a list of labels whose first is the primary one (ClipLabels'
    ``labels``; use ``"label"`` for an Event table). ``class_map`` fixes the classes of the multi-hot
    matrix for ``multilabel`` (default: every label seen, sorted). ``lat_column``, ``lon_column``,
    ``date_column`` and ``cell_deg`` are read by ``geo_time_block`` only, ``column`` by ``predefined``
    only (which ignores ``n_folds``: the column says how many folds there are).
    """
    if rare_classes not in ("warn", "error"):
        raise ValueError(f"rare_classes must be 'warn' or 'error', got {rare_classes!r}")
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    if group_column is not None and group_column not in table.columns:
        raise ConfigError(
            f"group_column {group_column!r} is not a column; the table has {list(table.columns)}"
        )
    split = FOLD_STRATEGIES.get(strategy)
    groups = table[group_column].to_numpy(object) if group_column is not None else None
    if strategy == "predefined":
        return predefined_folds(table, groups=groups, column=column)
    n_units = len(table) if groups is None else len(pd.unique(groups))
    if n_units < n_folds:
        unit = "rows" if groups is None else f"distinct {group_column!r} groups"
        raise ConfigError(f"cannot make {n_folds} folds from {n_units} {unit}; use fewer folds")
    folds = split(
        table, n_folds, label_column=label_column, groups=groups, class_map=class_map, seed=seed,
        rare_classes=rare_classes, lat_column=lat_column, lon_column=lon_column, date_column=date_column,
        cell_deg=cell_deg,
    )  # fmt: skip
    return np.asarray(folds, dtype=np.int64)


@FOLD_STRATEGIES.register("random")
def random_folds(
    table: pd.DataFrame, n_folds: int, *, groups: np.ndarray | None, seed: int, **_
) -> np.ndarray:
    """Shuffled KFold over rows, or over whole groups."""
    units, inverse = _units(table, groups)
    unit_folds = _from_splits(KFold(n_folds, shuffle=True, random_state=seed).split(units), len(units))
    return unit_folds[inverse]


@FOLD_STRATEGIES.register("stratified")
def stratified_folds(
    table: pd.DataFrame,
    n_folds: int,
    *,
    label_column: str,
    groups: np.ndarray | None,
    seed: int,
    rare_classes: str,
    **_,
) -> np.ndarray:
    """StratifiedKFold on the primary label (StratifiedGroupKFold when groups are given)."""
    primary = _primary_labels(table, label_column)
    _check_rare(pd.Series(primary), groups, n_folds, rare_classes)
    if groups is None:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        splits = _quiet(lambda: list(splitter.split(primary, primary)))
    else:
        splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        splits = _quiet(lambda: list(splitter.split(primary, primary, groups)))
    return _from_splits(splits, len(table))


@FOLD_STRATEGIES.register("group")
def group_folds(
    table: pd.DataFrame,
    n_folds: int,
    *,
    label_column: str,
    groups: np.ndarray | None,
    seed: int,
    rare_classes: str,
    **_,
) -> np.ndarray:
    """Whole groups per fold: stratified by the primary label when the table has one, else GroupKFold."""
    if groups is None:
        raise ConfigError("strategy 'group' needs group_column (e.g. 'recording_id' or 'site')")
    if label_column in table.columns:
        return stratified_folds(
            table, n_folds, label_column=label_column, groups=groups, seed=seed, rare_classes=rare_classes
        )
    splitter = GroupKFold(n_folds, shuffle=True, random_state=seed)
    return _from_splits(splitter.split(np.zeros(len(table)), groups=groups), len(table))


@FOLD_STRATEGIES.register("multilabel")
def multilabel_folds(
    table: pd.DataFrame,
    n_folds: int,
    *,
    label_column: str,
    groups: np.ndarray | None,
    class_map: ClassMap | None,
    seed: int,
    rare_classes: str,
    **_,
) -> np.ndarray:
    """MultilabelStratifiedKFold on multi-hot labels; with groups, on each group's union of labels."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    hot, names = _multi_hot(table, label_column, class_map)
    units, inverse = _units(table, groups)
    if groups is not None:
        unit_hot = np.zeros((len(units), hot.shape[1]), dtype=np.int64)
        np.maximum.at(unit_hot, inverse, hot)
        hot = unit_hot
    counts = pd.Series(hot.sum(axis=0), index=names)
    _report_rare(counts[counts > 0], n_folds, rare_classes, "rows" if groups is None else "groups")
    splitter = MultilabelStratifiedKFold(n_folds, shuffle=True, random_state=seed)
    unit_folds = _from_splits(splitter.split(hot, hot), len(units))
    return unit_folds[inverse]


@FOLD_STRATEGIES.register("geo_time_block")
def geo_time_block_folds(
    table: pd.DataFrame,
    n_folds: int,
    *,
    groups: np.ndarray | None,
    seed: int,
    lat_column: str,
    lon_column: str,
    date_column: str,
    cell_deg: float,
    **_,
) -> np.ndarray:
    """Whole space-time blocks per fold: a grid cell of ``cell_deg`` degrees and a quarter of the year.

    A block is (floor(lat / cell_deg), floor(lon / cell_deg), quarter 1-4 of the date), the spatial
    blocks per season of blockCV (BirdCLEF 2021): validation then measures how a model extrapolates to
    places and seasons it did not train on, not to neighbours of its training recordings.

    Blocks go to folds greedily, largest first, each into the fold with the fewest rows so far (ties
    broken at random from ``seed``), so fold sizes differ by at most the largest block. Labels are not
    used: a few large blocks leave StratifiedGroupKFold no room to balance classes, and it would give up
    balanced sizes trying. A row without latitude, longitude or a date whose month is known is a block
    of its own; these small blocks fill the folds up last, spread at random among equally full folds
    (the write-up's sparse regions, assigned randomly). With ``group_column``, blocks sharing a group
    merge, so no group is split.

        >>> folds = assign_folds(meta, 5, strategy="geo_time_block", cell_deg=10.0)
    """
    if not (np.isfinite(cell_deg) and cell_deg > 0):
        raise ValueError(f"cell_deg must be a positive number of degrees, got {cell_deg!r}")
    missing = [c for c in (lat_column, lon_column, date_column) if c not in table.columns]
    if missing:
        raise ConfigError(
            f"strategy 'geo_time_block' needs column(s) {missing} (or name yours with lat_column=, "
            f"lon_column=, date_column=); the table has {list(table.columns)}"
        )
    blocks = geo_time_blocks(table, lat_column, lon_column, date_column, cell_deg)
    units = _merge_with_groups(blocks, groups)
    n_units = int(units.max()) + 1 if len(units) else 0
    if n_units < n_folds:
        raise ConfigError(
            f"cannot make {n_folds} folds from {n_units} geo/time blocks; "
            "use fewer folds or a smaller cell_deg"
        )
    return _balanced_fill(np.bincount(units), n_folds, np.random.default_rng(seed))[units]


@FOLD_STRATEGIES.register("predefined")
def predefined_folds(
    table: pd.DataFrame, *, groups: np.ndarray | None, column: str | None, **_
) -> np.ndarray:
    """The fold column as it is: fold k holds out exactly the rows whose ``column`` is the integer k.

    Published folds (ESC-50's 1..5, a survey's own 0..4) keep their numbers, so ``folds.run=[0, 1]`` means
    the given folds 0 and 1. No rare-class warning: the folds are given, not drawn. Each group (with
    ``group_column``) must sit in one fold; an empty or non-integer cell raises naming its row.

        >>> assign_folds(meta, 5, strategy="predefined", column="fold")
    """
    if column is None:
        raise ConfigError("strategy 'predefined' needs folds.column, the column that holds each row's fold")
    if column not in table.columns:
        raise ConfigError(
            f"folds.column {column!r} is not a column of the labels; they have {list(table.columns)}"
        )
    raw = table[column]
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    bad = ~(np.isfinite(numbers) & (numbers >= 0) & (numbers == np.round(numbers)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = raw.iloc[i]
        raise row_error(table, i, f"fold column {column!r} is {value!r}; expected a fold number 0, 1, 2, ...")
    folds = numbers.astype(np.int64)
    if groups is not None:
        per_group = pd.DataFrame({"group": groups, "fold": folds}).groupby("group", sort=False)["fold"]
        split = per_group.nunique()
        if (split > 1).any():
            group = split[split > 1].index[0]
            found = sorted(per_group.get_group(group).unique().tolist())
            raise ConfigError(f"group {group!r} has rows in folds {found} of column {column!r}; a group "
                              "(a recording) must sit in one fold")  # fmt: skip
    if len(np.unique(folds)) < 2:
        raise ConfigError(f"fold column {column!r} holds a single fold {folds[:1].tolist()}; need at least 2")
    return folds


def geo_time_blocks(
    table: pd.DataFrame, lat_column: str, lon_column: str, date_column: str, cell_deg: float
) -> np.ndarray:
    """Block id per row (int64, 0..): rows share an id when they share cell and quarter; rows missing
    any of the three get an id of their own."""
    lat = _degrees(table, lat_column, 90.0, "latitude")
    lon = _degrees(table, lon_column, 180.0, "longitude")
    quarter = np.ceil(_months(table, date_column) / 3.0)
    known = np.isfinite(lat) & np.isfinite(lon) & np.isfinite(quarter)
    keys = pd.DataFrame({
        "lat_cell": np.floor(lat[known] / cell_deg), "lon_cell": np.floor(lon[known] / cell_deg),
        "quarter": quarter[known],
    })  # fmt: skip
    blocks = np.empty(len(table), dtype=np.int64)
    blocks[known] = keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy(np.int64)
    n_known = int(blocks[known].max()) + 1 if known.any() else 0
    blocks[~known] = n_known + np.arange(int((~known).sum()))
    return blocks


def _merge_with_groups(blocks: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Blocks joined through shared groups (connected components of the block-group graph)."""
    if groups is None:
        return blocks
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    group_codes, _ = pd.factorize(groups, use_na_sentinel=False)
    n_blocks = int(blocks.max()) + 1
    size = n_blocks + int(group_codes.max()) + 1
    edges = coo_matrix((np.ones(len(blocks)), (blocks, n_blocks + group_codes)), shape=(size, size))
    _, component = connected_components(edges, directed=False)
    _, merged = np.unique(component[blocks], return_inverse=True)
    return merged.astype(np.int64)


def _balanced_fill(unit_sizes: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold per unit: largest unit first into the fold with the fewest rows (random among ties)."""
    order = rng.permutation(len(unit_sizes))
    order = order[np.argsort(-unit_sizes[order], kind="stable")]
    fold_rows = np.zeros(n_folds)
    unit_folds = np.empty(len(unit_sizes), dtype=np.int64)
    for unit in order:
        # Row counts are whole numbers, so noise below 1 only breaks ties.
        fold = int(np.argmin(fold_rows + 0.5 * rng.random(n_folds)))
        unit_folds[unit] = fold
        fold_rows[fold] += unit_sizes[unit]
    return unit_folds


def _degrees(table: pd.DataFrame, column: str, limit: float, what: str) -> np.ndarray:
    """Float degrees per row, NaN where empty; a non-number or one beyond +-limit raises naming its row."""
    raw = table[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.to_numpy(np.float64, na_value=np.nan)
        blank = np.isnan(values)
    else:  # text, e.g. read from CSV with stray blanks
        text = raw.astype("string").str.strip()
        blank = (raw.isna() | (text == "")).fillna(True).to_numpy(bool)
        values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(np.float64, na_value=np.nan)
    bad = ~blank & ~(np.abs(values) <= limit)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = raw.iloc[i]
        value = value.item() if isinstance(value, np.generic) else value
        raise row_error(
            table, i, f"{column!r} is {value!r}; expected a {what} in degrees within "
            f"-{limit:g}..{limit:g}, or empty when unknown",
        )  # fmt: skip
    return values


_ISO_MONTH = re.compile(r"^\s*[+-]?\d{1,4}-(\d{1,2})(?:-\d{1,2})?(?:[ T].*)?$")


def _months(table: pd.DataFrame, column: str) -> np.ndarray:
    """Month (1-12) per row as float, NaN when unknown: empty, NaT, or an ISO date with month 00
    (BirdCLEF metadata writes "0000-00-00" and "2015-00-00"). Anything else that is no date raises."""
    values = table[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.month.to_numpy(np.float64, na_value=np.nan)
    return np.array([_month(table, i, column, v) for i, v in enumerate(values)], dtype=np.float64)


def _month(table: pd.DataFrame, i: int, column: str, value: object) -> float:
    if value is None or value is pd.NaT or value is pd.NA:
        return np.nan
    if isinstance(value, (date, pd.Timestamp)):
        return float(value.month)
    if isinstance(value, float) and np.isnan(value):
        return np.nan
    if isinstance(value, str):
        if not value.strip():
            return np.nan
        match = _ISO_MONTH.match(value)
        month = int(match[1]) if match else _parsed_month(value)
        if month is not None and 0 <= month <= 12:
            return float(month) if month else np.nan
    raise row_error(
        table,
        i,
        f"{column!r} is {value!r}; expected a date such as '2021-06-19' (month 00 or empty: unknown)",
    )


def _parsed_month(text: str) -> int | None:
    try:
        return pd.Timestamp(text).month
    except (ValueError, TypeError):
        return None


def _units(table: pd.DataFrame, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """What gets split (rows, or distinct groups) and, per row, the index of its unit."""
    if groups is None:
        return np.arange(len(table)), np.arange(len(table))
    inverse, units = pd.factorize(groups, use_na_sentinel=False)
    return np.asarray(units, dtype=object), inverse


def _from_splits(splits, n: int) -> np.ndarray:
    folds = np.full(n, -1, dtype=np.int64)
    for fold, (_, valid) in enumerate(splits):
        folds[valid] = fold
    return folds


def _primary_labels(table: pd.DataFrame, label_column: str) -> np.ndarray:
    if label_column not in table.columns:
        raise ValueError(
            f"label_column {label_column!r} is not a column; the table has {list(table.columns)}"
        )
    return np.array([(label_list(v) or [_NO_LABEL])[0] for v in table[label_column]], dtype=object)


def _multi_hot(table: pd.DataFrame, label_column: str, class_map: ClassMap | None) -> tuple[np.ndarray, list]:
    if label_column not in table.columns:
        raise ValueError(
            f"label_column {label_column!r} is not a column; the table has {list(table.columns)}"
        )
    rows = [label_list(v) for v in table[label_column]]
    names = list(class_map.names) if class_map is not None else sorted({n for r in rows for n in r})
    lookup = {n: i for i, n in enumerate(names)}
    hot = np.zeros((len(rows), len(names)), dtype=np.int64)
    for i, row in enumerate(rows):
        for name in row:
            if name not in lookup:
                raise ValueError(
                    f"row {i}: label {name!r} of column {label_column!r} is not in the class map"
                )
            hot[i, lookup[name]] = 1
    return hot, names


def _check_rare(primary: pd.Series, groups: np.ndarray | None, n_folds: int, rare_classes: str) -> None:
    if groups is None:
        counts = primary.value_counts()
    else:
        counts = (
            pd.DataFrame({"label": primary.to_numpy(), "group": groups}).groupby("label")["group"].nunique()
        )
    _report_rare(counts, n_folds, rare_classes, "rows" if groups is None else "groups")


def _report_rare(counts: pd.Series, n_folds: int, rare_classes: str, unit: str) -> None:
    rare = counts[counts < n_folds].sort_values()
    if rare.empty:
        return
    listed = ", ".join(f"{name!r} ({count})" for name, count in rare.head(10).items())
    more = f" and {len(rare) - 10} more" if len(rare) > 10 else ""
    message = (
        f"{len(rare)} class(es) have fewer {unit} than the {n_folds} folds, so some validation folds "
        f"will lack them: {listed}{more}"
    )
    if rare_classes == "error":
        raise ConfigError(f"{message}. Use fewer folds, strategy='random', or rare_classes='warn'.")
    warnings.warn(
        f"{message}; their {unit} are spread over distinct folds.",
        RareClassWarning,
        stacklevel=_outside_level(),
    )


def _outside_level() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside this module."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


def _quiet(run: Callable[[], list]) -> list:
    """Run a splitter without sklearn's own rare-class warning (ours names the classes)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*", category=UserWarning)
        return run()
