"""The rule `brain_extraction_default` (braintumor/decisions.toml), as written on 2026-12-05
before any row of its study, and its pick.

A row is {"variant", "seed", "held_out_site", "held_out_figures": {"roc_auc"}, "validation":
{"brain-tumor": {"roc_auc", "matched": {"roc_auc"}}}}; an `inference_only` row also holds
"held_out_figures_without_extraction": the same networks scored on the scans as given, which is
the current default's figure (brain_extraction = "none") on the same weights and CPU.
"""

from __future__ import annotations

import numpy as np

from ...decisions import decision
from ..new_scans.rule import best_variant
from ..site import HELD_OUT_SITES

_DECISION = decision("brain_extraction_default")
RULE = _DECISION.rule
_PARAMETERS = _DECISION.parameters
METHOD = _PARAMETERS["method"]
VARIANTS = tuple(_PARAMETERS["variants"])
SEEDS = tuple(_PARAMETERS["seeds"])
MIN_MAIN_ROC_AUC = _PARAMETERS["min_main_roc_auc"]
MIN_MAIN_MATCHED_ROC_AUC = _PARAMETERS["min_main_matched_roc_auc"]
TIE = _PARAMETERS["tie"]
MARGIN = _PARAMETERS["margin"]
CURRENT = "current default"  # the outcome when the fallback keeps the default as it is
#: The variants that train (one network per site and seed); single_source_extracted scores the single-source model.
TRAINED = ("inference_only", "extracted_training")


def _site_means(rows: list[dict], key: str) -> dict[str, float]:
    return {site: float(np.mean([row[key]["roc_auc"] for row in rows if row["held_out_site"] == site]))
            for site in HELD_OUT_SITES if any(row["held_out_site"] == site for row in rows)}


def variant_summary(rows: list[dict], variant: str, key: str = "held_out_figures") -> dict:
    """One variant over its rows: each held-out site's ROC AUC (mean over the seeds run), their
    worst and mean (None while a site has no row), the lowest A validation ROC AUC and matched-pair
    ROC AUC of any row, and whether it clears the floors."""
    mine = [row for row in rows if row["variant"] == variant]
    held_out = _site_means(mine, key)
    complete = bool(mine) and set(held_out) == set(HELD_OUT_SITES)
    main = [float(row["validation"]["brain-tumor"]["roc_auc"]) for row in mine]
    matched = [float(row["validation"]["brain-tumor"]["matched"]["roc_auc"]) for row in mine]
    return {"held_out_auc": held_out, "complete": complete,
            "worst_held_out_auc": min(held_out.values()) if complete else None,
            "mean_held_out_auc": float(np.mean(list(held_out.values()))) if complete else None,
            "seeds": sorted({int(row["seed"]) for row in mine if row.get("seed") is not None}),
            "lowest_main_val_roc_auc": min(main, default=None), "lowest_main_val_matched_roc_auc": min(matched, default=None),
            "qualifies": bool(complete and min(main) >= MIN_MAIN_ROC_AUC and min(matched) >= MIN_MAIN_MATCHED_ROC_AUC)}


def extraction_pick(rows: list[dict]) -> dict:
    """`RULE` as written, fallback included: {"outcome": a variant or `CURRENT`, "worst_held_out_auc",
    "current_worst_held_out_auc" (the inference_only rows' networks without the extraction),
    "summaries"}. A variant without every site's row cannot be picked."""
    summaries = {variant: variant_summary(rows, variant) for variant in VARIANTS}
    current = variant_summary(rows, "inference_only", "held_out_figures_without_extraction")
    summaries[CURRENT] = current
    qualified = [variant for variant in VARIANTS if summaries[variant]["qualifies"]]
    result = {"outcome": CURRENT, "worst_held_out_auc": None,
              "current_worst_held_out_auc": current["worst_held_out_auc"], "summaries": summaries}
    if not qualified or current["worst_held_out_auc"] is None:
        return {**result, "reason": "no variant qualified, or the current default's rows are not all in: fallback"}
    best = best_variant(summaries, qualified, TIE)
    worst = summaries[best]["worst_held_out_auc"]
    won = worst >= current["worst_held_out_auc"] + MARGIN
    return {**result, "outcome": best if won else CURRENT, "best_variant": best, "worst_held_out_auc": worst,
            "reason": f"{best}: worst held-out-site ROC AUC {worst:.4f} against the current default's "
                      f"{current['worst_held_out_auc']:.4f}; margin {MARGIN} {'met' if won else 'not met: fallback'}"}
