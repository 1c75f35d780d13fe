"""The rule `scope_check` (braintumor/decisions.toml), as written on 2026-12-05 before any row of
its study, and the pieces that apply it: the regularisation chosen by leave-one-site-out, the
threshold set on validation rows, and the pick by set B.

A leave-one-site-out row is {"variant", "c", "held_out_site", "balanced_accuracy"}; a fitted
variant's entry is {"variant", "c", "threshold", "qualifies", "b": {"unwarned_share",
"unwarned", "roc_auc"}}.
"""

from __future__ import annotations

import numpy as np

from ...decisions import decision
from ..site import HELD_OUT_SITES

_DECISION = decision("scope_check")
RULE = _DECISION.rule
_PARAMETERS = _DECISION.parameters
VARIANTS = tuple(_PARAMETERS["variants"])
C_GRID = tuple(_PARAMETERS["c_grid"])
MIN_SITE_BALANCED_ACCURACY = _PARAMETERS["min_site_balanced_accuracy"]
MAX_VAL_WARNED = _PARAMETERS["max_val_warned"]
B_UNWARNED_FLOOR = _PARAMETERS["b_unwarned_floor"]
TIE = _PARAMETERS["tie"]
NO_DETECTOR = "no detector (the five cheap cues alone)"


def chosen_c(rows: list[dict], variant: str) -> dict:
    """`variant`'s C: the highest mean leave-one-site-out balanced accuracy over the held-out
    sites, ties to the smaller C. {"c", "mean", "sites": {site: balanced accuracy}, "qualifies"}.
    Raises ValueError while a (C, site) row is missing."""
    by_c = {}
    for c in C_GRID:
        sites = {row["held_out_site"]: float(row["balanced_accuracy"]) for row in rows
                 if row["variant"] == variant and row["c"] == c}
        missing = [site for site in HELD_OUT_SITES if site not in sites]
        if missing:
            raise ValueError(f"{variant} at C={c}: no row for site {', '.join(missing)}")
        by_c[c] = sites
    best = max(sorted(C_GRID), key=lambda c: (np.mean(list(by_c[c].values())), -c))
    sites = by_c[best]
    return {"c": best, "mean": float(np.mean(list(sites.values()))), "sites": sites,
            "qualifies": bool(min(sites.values()) >= MIN_SITE_BALANCED_ACCURACY)}


def _lowest_threshold(scores: np.ndarray, cue_warned: np.ndarray, max_share: float) -> float | None:
    """The lowest t in (0, 1] at which (cue_warned | scores >= t) is at most `max_share` of the
    rows; None when the cues alone warn more."""
    allowed = int(np.floor(max_share * len(scores) + 1e-9)) - int(cue_warned.sum())
    if allowed < 0:
        return None
    free = np.sort(np.asarray(scores, dtype=float)[~cue_warned])[::-1]
    if allowed >= len(free):  # every row may be warned
        return float(np.nextafter(0.0, 1.0))
    return float(min(np.nextafter(free[allowed], np.inf), 1.0))


def validation_threshold(sets: dict[str, tuple[np.ndarray, np.ndarray]], max_share: float = MAX_VAL_WARNED) -> float | None:
    """The rule's threshold from in-scope validation sets ({name: (scores, cue_warned)}): the
    lowest at which every set has at most `max_share` warned; None when the cues alone warn
    more on one of them (the variant then does not qualify)."""
    thresholds = [_lowest_threshold(scores, np.asarray(cue_warned, dtype=bool), max_share)
                  for scores, cue_warned in sets.values()]
    return None if any(t is None for t in thresholds) else max(thresholds)


def b_figures(labels, probability, warned) -> dict:
    """What the pick reads of B: the unwarned share and count, and the default's ROC AUC on the
    unwarned scans (None when they hold one class only, or none)."""
    from sklearn.metrics import roc_auc_score

    labels, warned = np.asarray(labels).astype(int), np.asarray(warned, dtype=bool)
    kept = ~warned
    auc = (float(roc_auc_score(labels[kept], np.asarray(probability)[kept]))
           if kept.any() and len(np.unique(labels[kept])) == 2 else None)
    return {"unwarned": int(kept.sum()), "unwarned_share": float(kept.mean()), "roc_auc": auc}


def _beats(mine: dict, best: dict, floor: float = B_UNWARNED_FLOOR, tie: float = TIE) -> bool:
    """Whether fitted variant `mine` ranks above `best` (`best` the earlier)."""
    floor_mine, floor_best = (entry["b"]["unwarned_share"] <= floor for entry in (mine, best))
    if floor_mine != floor_best:
        return floor_mine
    if not floor_mine:
        auc_mine, auc_best = mine["b"]["roc_auc"] or 0.0, best["b"]["roc_auc"] or 0.0
        if abs(auc_mine - auc_best) > tie:
            return auc_mine > auc_best
    return mine["b"]["unwarned"] < best["b"]["unwarned"]


def scope_pick(fitted: list[dict], floor: float = B_UNWARNED_FLOOR, tie: float = TIE) -> dict:
    """`RULE` as written, fallback included, over the fitted variants (in the rule's order):
    {"outcome": a variant or `NO_DETECTOR`, "reason", and the pick's B figures}. The rule
    `scope_sequence_cnn` picks the same way, with its own `floor` and `tie`."""
    qualified = [entry for entry in fitted if entry["qualifies"]]
    if not qualified:
        return {"outcome": NO_DETECTOR, "reason": "no variant qualified: fallback",
                "b_unwarned_roc_auc": None, "b_unwarned_share": None}
    best = qualified[0]
    for entry in qualified[1:]:
        if _beats(entry, best, floor, tie):
            best = entry
    b = best["b"]
    auc = "no ROC AUC (one class or none)" if b["roc_auc"] is None else f"ROC AUC {b['roc_auc']:.4f}"
    return {"outcome": best["variant"], "c": best.get("c"), "threshold": best["threshold"],
            "b_unwarned_roc_auc": b["roc_auc"], "b_unwarned_share": b["unwarned_share"],
            "reason": f"{best['variant']}: {b['unwarned_share']:.1%} of B unwarned, {auc} there"}
