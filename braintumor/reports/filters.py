"""The formatting helpers of the templates, written once and registered as Jinja filters
(`render.environment`). Each takes a figure as it sits in the records and returns text."""

from __future__ import annotations

import math
import re


class MissingFigure(ValueError):
    """A template asked to format a figure the records do not hold: the render stops (a
    document never shows a silent "n/a" for a missing figure; a template that means "not
    measured" says so in words, with an explicit test)."""


def _checked(value, what: str):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise MissingFigure(f"{what}: the figure is missing from the records ({value!r})")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise MissingFigure(f"{what}: {value!r} is not a number")
    return value


def pct(value, digits: int = 1) -> str:
    """A share as a percentage: 0.9761 -> "97.6%"."""
    return f"{100 * _checked(value, 'pct'):.{digits}f}%"


def num(value, digits: int = 3) -> str:
    """A plain number to `digits` places: an AUC, a threshold."""
    return f"{_checked(value, 'num'):.{digits}f}"


def ci(entry: dict, key: str, digits: int = 1, percent: bool = True) -> str:
    """`entry[key]` with its 95% interval from `entry["ci95"][key]`: "97.6% (96.3%–98.5%)";
    `percent=False` for an AUC ("0.995 (0.989–0.999)"). A missing `key` stops the render; an
    entry recorded without intervals shows the figure alone."""
    if key not in entry:
        raise MissingFigure(f"ci: no {key!r} in the record (keys: {', '.join(map(str, entry))})")
    show = (lambda v: pct(v, digits)) if percent else (lambda v: num(v, 3))
    text = show(entry[key])
    interval = (entry.get("ci95") or {}).get(key)
    if interval:
        text += f" ({show(interval[0])}–{show(interval[1])})"
    return text


def auc_ci(entry: dict) -> str:
    """A cross-validated matched-pair ROC AUC with its interval, to four places: the figures sit
    within a few thousandths of one another and of the 0.995 the project aims for, and three
    places would round 0.9946 up to that bar."""
    low, high = entry["roc_auc_ci95"]
    return f"{entry['roc_auc']:.4f} ({low:.4f}–{high:.4f})"


def mean_std(summary: dict, percent: bool = True, digits: int = 2) -> str:
    """A cross-validation summary `{"mean", "std"}`: "97.63% ± 0.83" or "0.9955 ± 0.0017"."""
    if percent:
        return f"{100 * summary['mean']:.{digits}f}% ± {100 * summary['std']:.{digits}f}"
    return f"{summary['mean']:.4f} ± {summary['std']:.4f}"


def count(value) -> str:
    """An integer with thousands separators: 377106 -> "377,106"."""
    return "—" if value is None else f"{value:,}"


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def upper_first(text: str) -> str:
    """The first letter up, the rest as written (Jinja's `capitalize` lowers the rest: LGG)."""
    return text[:1].upper() + text[1:]


def paragraph(text: str) -> str:
    """A paragraph written over several template lines, as one line: runs of white space
    become one space (`{% filter paragraph %}`)."""
    return re.sub(r"\s+", " ", text).strip()


def figure(value) -> str:
    """A value read from a record for the decisions table: floats to four places, lists
    joined, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == int(value) else f"{value:.4f}"
    if isinstance(value, list):
        return ", ".join(figure(item) for item in value)
    if value is None:
        return "—"
    return str(value)


def short_source(name: str) -> str:
    """A training source's short name in the documents (A, B, LGG: braintumor/configs/datasets.toml)."""
    from ..models.configs import datasets

    return datasets().get(name, {}).get("short", name)


FILTERS = {name: function for name, function in globals().items()
           if name in ("pct", "num", "ci", "auc_ci", "mean_std", "count", "lower_first", "upper_first", "paragraph", "figure",
                       "short_source")}
