"""The figures `make test` asserts of the models it trains, and the floors they must clear.

A model trained for 3 epochs on 640 rows (the check schedule) lands on other weights on
another CPU, much as it does under another seed. So each floor is set from a seed sweep
(`scripts/check_floors.py`, `make check-floors` -> `model/check_floors.json`): below the
sweep's minimum by a stated margin, and above what each broken pipeline (shuffled labels,
one class only, the threshold applied the wrong way round) scores. The floors live in
`braintumor/configs/check_floors.toml`; `tests/test_check_floors.py` proves both bounds
from the committed record.

Figures at a threshold are asserted only where the sweep shows them stable: after 3 epochs
the validation threshold lands near 0.03 and accuracy measures where it fell.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .. import config

FLOORS_PATH = Path(__file__).resolve().parent.parent / "configs" / "check_floors.toml"
RECORD_PATH = config.MODEL_DIR / "check_floors.json"


def load_floors(path: Path = FLOORS_PATH) -> dict:
    """The floors table: {"margin": ..., "check": {figure: floor}, "full": {figure: floor}}."""
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def model_figures(entry: dict) -> dict[str, float]:
    """What is read of one model's test entry (`records.model_entry` with "head_matched"):
    threshold-free figures first, then those at its threshold."""
    return {
        "test ROC AUC": entry["roc_auc"],
        "matched-pair ROC AUC": entry["head_matched"]["roc_auc"],
        "test accuracy": entry["accuracy"],
        "min(sensitivity, specificity)": min(entry["sensitivity"], entry["specificity"]),
    }


def check_figures(improved: dict, reference: dict) -> dict[str, float]:
    """Every figure the sweep records for one run, by the name the floors table uses."""
    return {**{f"improved CNN {name}": value for name, value in model_figures(improved).items()},
            **{f"reference CNN {name}": value for name, value in model_figures(reference).items()}}


def floor_results(figures: dict[str, float], schedule: str, floors: dict | None = None) -> dict[str, dict]:
    """Each floored figure of `schedule` with its value, its floor and whether it clears it.
    A figure the table floors but `figures` lacks is an error: a check that silently vanished."""
    table = (floors or load_floors())[schedule]
    missing = sorted(set(table) - set(figures))
    if missing:
        raise KeyError(f"no figure for the floor(s) {missing}: the notebook and {FLOORS_PATH.name} disagree")
    return {name: {"value": float(figures[name]), "floor": float(floor), "ok": bool(figures[name] >= floor)}
            for name, floor in table.items()}


def describe(name: str, result: dict) -> str:
    """One line per figure, e.g. 'improved CNN test ROC AUC 0.891 >= floor 0.80'."""
    sign = ">=" if result["ok"] else "<"
    return f"{name} {result['value']:.3f} {sign} floor {result['floor']:.3f}"


def failures(results: dict[str, dict]) -> str:
    """The failed figures, one line each, for an assertion message ('' when all pass)."""
    return "; ".join(describe(name, result) for name, result in results.items() if not result["ok"])
