"""Markdown generated from the measured numbers: README sections, the error-analysis
report and the model card. Nothing here holds a result; it only formats what it is given,
so a report can never disagree with `model/metrics.json`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from .data import atomic_write

#: Row order and display names of the models table.
MODEL_ORDER = (
    ("majority", "Majority class (always 'no tumour')"),
    ("forest_csv_features", "Random forest on the CSV's 13 features ⚠ not from these JPEGs"),
    ("forest_image_features", "Random forest on features recomputed from the JPEGs"),
    ("reference_cnn", "Reference two-conv CNN (the seed architecture)"),
    ("improved_cnn", "Improved CNN (shipped: `model/braintumor.keras`)"),
)


def pct(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def with_ci(entry: dict, key: str, digits: int = 1, as_percent: bool = True) -> str:
    value = entry.get(key)
    interval = (entry.get("ci95") or {}).get(key)
    show = (lambda v: pct(v, digits)) if as_percent else (lambda v: "n/a" if v is None else f"{v:.3f}")
    text = show(value)
    if interval and None not in interval:
        text += f" ({show(interval[0])}–{show(interval[1])})"
    return text


def results_table(metrics: dict) -> str:
    """The side-by-side table of every model on the same test rows, plus the seed's report."""
    header = (
        "| Model | Parameters | Training (s, CPU) | Threshold | Test accuracy (95% CI) | Sensitivity (95% CI) "
        "| Specificity (95% CI) | ROC AUC (95% CI) | Missed tumours |\n"
        "|---|---:|---:|---:|---|---|---|---|---:|"
    )
    rows = [header]
    models = metrics["models"]
    for key, label in MODEL_ORDER:
        if key not in models:
            continue
        entry = models[key]
        tumours = entry["confusion"]["tp"] + entry["confusion"]["fn"]
        parameters = entry.get("parameters")
        rows.append(
            f"| {label} | {'—' if parameters is None else f'{parameters:,}'} | {entry['train_seconds']:.1f} "
            f"| {entry['threshold']:.3f} | {with_ci(entry, 'accuracy')} | {with_ci(entry, 'sensitivity')} "
            f"| {with_ci(entry, 'specificity')} | {with_ci(entry, 'roc_auc', as_percent=False)} "
            f"| {entry['missed_tumours']} of {tumours} |"
        )
    seed = metrics.get("seed_report")
    if seed:
        rows.append(
            f"| Seed notebook, as its author reported it (random split, duplicates on both sides) | — | — | 0.500 "
            f"| {pct(seed['test_accuracy'])} | {pct(1 - seed['missed_tumours'] / seed['test_tumours'])} | — | — "
            f"| {seed['missed_tumours']} of {seed['test_tumours']} |"
        )
    return "\n".join(rows)


def cv_table(cv: dict) -> str:
    """Mean ± standard deviation over the grouped folds, one row per model."""
    rows = [
        "| Model | Folds | Accuracy | Sensitivity | Specificity | ROC AUC |",
        "|---|---:|---|---|---|---|",
    ]
    for key, label in MODEL_ORDER:
        if key not in cv.get("models", {}):
            continue
        summary = cv["models"][key]["summary"]
        cells = []
        for metric in ("accuracy", "sensitivity", "specificity", "roc_auc"):
            mean, std = summary[metric]["mean"], summary[metric]["std"]
            cells.append(f"{100 * mean:.2f}% ± {100 * std:.2f}" if metric != "roc_auc" else f"{mean:.4f} ± {std:.4f}")
        rows.append(f"| {label} | {len(cv['models'][key]['folds'])} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


_SECTION = "<!-- BEGIN GENERATED: {name} -->\n{body}\n<!-- END GENERATED: {name} -->"


def replace_sections(text: str, sections: dict[str, str]) -> str:
    """Replace each `<!-- BEGIN GENERATED: name -->...<!-- END ... -->` block in `text`."""
    for name, body in sections.items():
        pattern = re.compile(
            rf"<!-- BEGIN GENERATED: {re.escape(name)} -->.*?<!-- END GENERATED: {re.escape(name)} -->", re.S
        )
        if not pattern.search(text):
            raise ValueError(f"no generated section '{name}' in the document; add its BEGIN/END markers")
        text = pattern.sub(lambda _: _SECTION.format(name=name, body=body.strip()), text)
    return text


def update_document(path: str | os.PathLike, sections: dict[str, str]) -> None:
    path = Path(path)
    updated = replace_sections(path.read_text(), sections)
    atomic_write(path, lambda tmp: tmp.write_text(updated))


def write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(Path(path), lambda tmp: tmp.write_text(text.rstrip() + "\n"))
