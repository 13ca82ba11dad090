"""The README's result tables, written from results.json (numbers only from runs that were made)."""

from __future__ import annotations

from pathlib import Path

START, END = "<!-- results:start (written by run.py from results.json) -->", "<!-- results:end -->"
DATA = {"insects": "InsectSet32 clips", "bats": "bat boxes (time split)", "soundscapes": "insect soundscapes"}


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _metric(metrics: dict, clips: bool) -> str:
    if clips:
        return f"acc {_num(metrics.get('accuracy'))}, LWLRAP {_num(metrics.get('lwlrap'))}"
    return (f"LWLRAP {_num(metrics.get('lwlrap'))}, mAP {_num(metrics.get('map_macro'))}, "
            f"AUC {_num(metrics.get('roc_auc_macro'))}")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _main_table(experiments: dict) -> list[str]:
    lines = ["| experiment | recipe | data | held-out (final epoch) | validation (best epoch) | train wall "
             "| command |", "|---|---|---|---|---|---|---|"]
    for name, r in experiments.items():
        clips = r["data"] == "insects"
        held = r["held_out_final_epoch"]
        level = f"{held['n_samples']} clips" if clips else f"{held['n_samples']} windows"
        lines.append(
            f"| {name} | `{r['recipe']}` | {DATA[r['data']]} | {_metric(held, clips)} ({level}) | "
            f"{_metric(r['valid_best_epoch'], clips)} (epoch {r.get('best_epoch', '?')}) | "
            f"{_minutes(r['train_wall_s'])}, {r['epochs']} epochs "
            f"| `{r['command']}` |"
        )
    return lines


def _ablation_tables(experiments: dict) -> list[str]:
    groups: dict[str, list[tuple[str, dict]]] = {}
    for r in experiments.values():
        if r.get("ablation"):
            group, arm = r["ablation"].split(": ", 1)
            groups.setdefault(group, []).append((arm, r))
    lines = []
    for group, arms in groups.items():
        clips = arms[0][1]["data"] == "insects"
        lines += ["", f"Ablation **{group}** on {DATA[arms[0][1]['data']]} (same data, epochs and seed):",
                  "", "| arm | held-out (final epoch) | validation (last epoch) | validation (best epoch) "
                  "| wall |", "|---|---|---|---|---|"]
        for arm, r in arms:
            lines.append(f"| {arm} | {_metric(r['held_out_final_epoch'], clips)} | "
                         f"{_metric(r['valid_last_epoch'], clips)} | "
                         f"{_metric(r['valid_best_epoch'], clips)} | {_minutes(r['train_wall_s'])} |")
    return lines


def _tile_tables(experiments: dict) -> list[str]:
    lines = []
    for name, r in experiments.items():
        if r.get("tiles"):
            lines += ["", f"Tiles at inference, **{name}** (one model, final epoch; held-out windows):",
                      "", "| tiles (spectrogram frames) | LWLRAP | mAP | AUC | predict wall |",
                      "|---|---|---|---|---|"]
            for label, m in r["tiles"].items():
                lines.append(f"| {label} | {_num(m.get('lwlrap'))} | {_num(m.get('map_macro'))} | "
                             f"{_num(m.get('roc_auc_macro'))} | {m['predict_wall_s']:.1f} s |")
    return lines


def _override_table(experiments: dict) -> list[str]:
    lines = ["", "Settings of each experiment: the recipe plus these `--set` overrides (data paths aside):",
             "", "| experiment | overrides |", "|---|---|"]
    for name, r in experiments.items():
        lines.append(f"| {name} | {' '.join(f'`{o}`' for o in r['overrides'])} |")
    return lines


def tables(results: dict) -> str:
    experiments = results.get("experiments", {})
    return "\n".join([*_main_table(experiments), *_ablation_tables(experiments), *_tile_tables(experiments),
                      *_override_table(experiments)])


def write_readme(results: dict, path: Path) -> None:
    """Replace the block between the result markers of ``path`` (appended if the markers are missing)."""
    text = path.read_text() if path.exists() else "# Recipe benchmark\n"
    block = f"{START}\n{tables(results)}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
