"""The model for scans from elsewhere: `predict`'s default, chosen by its own rule.

Two jobs, two roles. The notebooks' model serves this dataset (the single-source CNN, chosen
on A). `predict`'s default serves scans from other hospitals, so it is chosen on LGG sites it
never saw, among variants that clear absolute floors on A (decision `new_scans_default`,
which supersedes `site_default` for the default; the variants: `new_scans_variants`). Both
rules were written on 2026-12-02, after the held-out-site study's figures were seen and before
the first row of this study; the record `model/new_scans_study.json` holds the rows.

Each row is one variant, one seed, one held-out site, shaped like a `site_study` row:
{"variant", "seed", "held_out_site", "held_out_figures": {"roc_auc"}, "validation":
{"brain-tumor": {"roc_auc", "matched": {"roc_auc"}}}}.
"""

from __future__ import annotations

import numpy as np

from ...decisions import decision
from ..site import HELD_OUT_SITES

RULE = decision("new_scans_default").rule
_PARAMETERS = decision("new_scans_default").parameters
VARIANTS = tuple(_PARAMETERS["variants"])
SEEDS = tuple(_PARAMETERS["seeds"])
MIN_MAIN_ROC_AUC = _PARAMETERS["min_main_roc_auc"]
MIN_MAIN_MATCHED_ROC_AUC = _PARAMETERS["min_main_matched_roc_auc"]
TIE = _PARAMETERS["tie"]
MARGIN = _PARAMETERS["margin"]
NO_VARIANT_QUALIFIED = "no variant qualified"
SINGLE_SOURCE = "single-source"
#: The shipped model the pick becomes, trained on A and all four sites (model/new-scans/config.toml).
MODEL_NAME = "new-scans"


def variant_summary(rows: list[dict], variant: str, partial: bool = False) -> dict:
    """One variant over its rows: each held-out site's ROC AUC (mean over the seeds run), the
    worst and mean of those, the lowest A validation ROC AUC and matched-pair ROC AUC of any
    row, and whether it clears the floors. A site without a row is an error; with `partial`
    (the documents, while rows are still to run) it is left out, and worst and mean are None."""
    mine = [row for row in rows if row["variant"] == variant]
    by_site = {site: [float(row["held_out_figures"]["roc_auc"]) for row in mine if row["held_out_site"] == site]
               for site in HELD_OUT_SITES}
    missing = [site for site, values in by_site.items() if not values]
    if missing and not partial:
        raise ValueError(f"variant {variant!r} has no row for site(s) {missing}: run its rows first")
    held_out = {site: float(np.mean(values)) for site, values in by_site.items() if values}
    main_auc = min(float(row["validation"]["brain-tumor"]["roc_auc"]) for row in mine)
    main_matched = min(float(row["validation"]["brain-tumor"]["matched"]["roc_auc"]) for row in mine)
    return {"held_out_auc": held_out, "worst_held_out_auc": None if missing else min(held_out.values()),
            "mean_held_out_auc": None if missing else float(np.mean(list(held_out.values()))),
            "seeds": sorted({int(row["seed"]) for row in mine}),
            "lowest_main_val_roc_auc": main_auc, "lowest_main_val_matched_roc_auc": main_matched,
            "qualifies": bool(main_auc >= MIN_MAIN_ROC_AUC and main_matched >= MIN_MAIN_MATCHED_ROC_AUC)}


def best_variant(summaries: dict, qualified: list[str], tie: float) -> str:
    """Among `qualified` (in the rule's order), the highest worst held-out-site ROC AUC; ties
    within `tie` go to the higher mean held-out-site ROC AUC, then to the earlier variant. The
    ordering new_scans_default and brain_extraction_default share."""
    best = qualified[0]
    for variant in qualified[1:]:
        gap = summaries[variant]["worst_held_out_auc"] - summaries[best]["worst_held_out_auc"]
        if gap > tie or (abs(gap) <= tie and summaries[variant]["mean_held_out_auc"] > summaries[best]["mean_held_out_auc"]):
            best = variant
    return best


def new_scans_pick(rows: list[dict], single_source_held_out_aucs: dict[str, float]) -> dict:
    """`RULE` as written, fallback included. Returns {"outcome": the picked variant or
    `NO_VARIANT_QUALIFIED`, "default_model": `MODEL_NAME` (the pick trained on A and all four
    sites) when the picked variant beats the single-source
    model's worst held-out-site ROC AUC by `MARGIN`, else "single-source", "worst_held_out_auc",
    "summaries"}."""
    summaries = {variant: variant_summary(rows, variant) for variant in VARIANTS}
    qualified = [variant for variant in VARIANTS if summaries[variant]["qualifies"]]
    single_worst = min(single_source_held_out_aucs[site] for site in HELD_OUT_SITES)
    if not qualified:
        return {"outcome": NO_VARIANT_QUALIFIED, "default_model": SINGLE_SOURCE, "worst_held_out_auc": None,
                "single_source_worst_held_out_auc": single_worst, "summaries": summaries}
    best = best_variant(summaries, qualified, TIE)
    worst = summaries[best]["worst_held_out_auc"]
    return {"outcome": best, "default_model": MODEL_NAME if worst >= single_worst + MARGIN else SINGLE_SOURCE,
            "worst_held_out_auc": worst, "single_source_worst_held_out_auc": single_worst, "summaries": summaries}
