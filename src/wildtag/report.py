"""``wildtag report RUN_DIR``: one HTML page of a trained run: model card, training curves, per-class table.

    >>> write_report("runs/insects")          # -> runs/insects/report.html, self-contained (PNGs inline)

The page shows the run's overall out-of-fold metrics (``metrics.json``), each fold's training curves (every
numeric column of ``fold-K/logs/**/metrics.csv`` against the epoch: losses in one plot, validation
metrics in another), the per-class validation table computed from the out-of-fold scores
(``fold-K/oof.parquet``, all folds together) and the model card (``model.json``).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wildtag.errors import ModelLoadError
from wildtag.fileio import write_text_atomic


def fold_dirs(run_dir: Path) -> list[Path]:
    """The ``fold-K`` folders of a run, in fold order."""
    return sorted((p for p in run_dir.glob("fold-*") if p.is_dir() and p.name[5:].isdigit()),
                  key=lambda p: int(p.name[5:]))


def training_log(fold_dir: Path) -> pd.DataFrame | None:
    """A fold's Lightning CSV log, one row per epoch (the last value of each column), or None."""
    logs = sorted(fold_dir.glob("logs/**/metrics.csv"))
    if not logs:
        return None
    frame = pd.concat([pd.read_csv(p) for p in logs], ignore_index=True)
    if "epoch" not in frame.columns:
        return None
    return frame.groupby("epoch").last().reset_index()


def per_class_validation(run_dir: Path, threshold: float = 0.5) -> pd.DataFrame | None:
    """The per-class table (AP, ROC-AUC, precision, recall, F1) of the run's out-of-fold scores."""
    from wildtag.metrics import per_class_table

    parts = [pd.read_parquet(d / "oof.parquet") for d in fold_dirs(run_dir) if (d / "oof.parquet").is_file()]
    if not parts:
        return None
    oof = pd.concat(parts, ignore_index=True)
    classes = [c for c in oof.columns if f"target:{c}" in oof.columns]
    targets = oof[[f"target:{c}" for c in classes]].to_numpy(np.float64)
    return per_class_table(targets, oof[classes].to_numpy(np.float64), classes, threshold=threshold)


def _curves_png(log: pd.DataFrame, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    numeric = [c for c in log.columns if c not in ("epoch", "step") and pd.api.types.is_numeric_dtype(log[c])
               and log[c].notna().any()]
    losses = [c for c in numeric if "loss" in c]
    others = [c for c in numeric if c not in losses]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, columns, label in ((axes[0], losses, "loss"), (axes[1], others, "validation metric")):
        for column in columns:
            rows = log[log[column].notna()]
            ax.plot(rows["epoch"], rows[column], marker="o", markersize=3, label=column)
        ax.set(xlabel="epoch", ylabel=label)
        if columns:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="", border=0, classes="table")


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the HTML report of ``run_dir`` (default ``RUN_DIR/report.html``); the path written."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory")
    folds = fold_dirs(run_dir)
    if not folds:
        raise ModelLoadError(f"{run_dir}: no fold-K folders: not a wildtag run directory")
    sections = [f"<h1>wildtag run {html.escape(run_dir.name)}</h1>"]
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        overall: dict[str, Any] = json.loads(metrics_path.read_text()).get("overall", {})
        rows = pd.DataFrame([(k, v) for k, v in overall.items() if isinstance(v, (int, float))],
                            columns=["metric", "value"])
        sections += ["<h2>Out-of-fold metrics</h2>", _table(rows)]
    sections.append("<h2>Training curves</h2>")
    for fold in folds:
        log = training_log(fold)
        if log is None:
            sections.append(f"<p>{fold.name}: no training log</p>")
            continue
        sections.append(f'<img alt="{fold.name} training curves" src="data:image/png;base64,'
                        f'{_curves_png(log, fold.name)}">')
    table = per_class_validation(run_dir)
    if table is not None:
        sections += ["<h2>Per-class validation (out of fold, threshold 0.5)</h2>", _table(table)]
    card = run_dir / "model.json"
    if card.is_file():
        pretty = json.dumps(json.loads(card.read_text()), indent=2, sort_keys=True)
        sections += ["<h2>Model card</h2>", f"<pre>{html.escape(pretty)}</pre>"]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>wildtag run "
            f"{html.escape(run_dir.name)}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}"
            ".table td,.table th{padding:2px 8px;text-align:right}.table td:first-child{text-align:left}"
            "pre{background:#f4f4f4;padding:8px;font-size:12px}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")
    return write_text_atomic(Path(out) if out else run_dir / "report.html", page)
