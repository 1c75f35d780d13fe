"""Leave-one-source-out (LOSO) selection over A (`brain-tumor`), B (`extra`) and LGG (`lgg`).

Each recipe variant is trained on every pair of sources and scored on the one left out, as the
domain-generalisation literature selects models (leave-one-domain-out; Gulrajani and Lopez-Paz,
"In Search of Lost Domain Generalization", 2021). The rules read only those figures: no outside
scan and no test row. Written and committed before the first run of `scripts/loso_study.py`;
`fallback_variant` (decision `loso_fallback`) was added after its figures were seen, when the
written pick rule qualified no variant.
"""

from __future__ import annotations

import numpy as np

from ...decisions import decision
from ...models import configs

SOURCES = ("brain-tumor", "extra", "lgg")

#: The rows of a held-out source that the table scores: its train and validation rows (every
#: row the pair never saw, less the test rows kept for the final confirmation).
HELD_OUT_SPLITS = ("train", "val")

#: The study's schedule and row caps are the all-source model's configuration (model/studies/all-source/config.toml):
#: per source a class-stratified sample (seed fixed) of at most `TRAIN_CAP` train and `VAL_CAP`
#: validation rows; the pair models train as the final model does, so that the table describes it.
RECIPE = configs.training_recipe("all-source")
_CAPS = configs.row_caps("all-source")
TRAIN_CAP = _CAPS["brain-tumor"]["train"]
VAL_CAP = _CAPS["brain-tumor"]["val"]
if any(caps != _CAPS["brain-tumor"] for caps in _CAPS.values()):
    raise ValueError("model/studies/all-source/config.toml: the study caps every source alike; give each the same train and val caps")

#: The architecture every variant shares: the all-source model's configuration (the two-source
#: model's network, source study row AB_headcrop_intensity_geometric: head crop, gamma/gain/noise
#: and geometric augmentation), as JSON records hold it (lists, not tuples).
BASE_ARCHITECTURE = {key: list(value) if isinstance(value, tuple) else value
                     for key, value in configs.architecture("all-source").items()}

#: The variants of the table, in order (ties go to the earlier one).
VARIANTS = {
    "photometric": {},
    "scanner_standardised": {"scanner": True, "head_scale": "standardise"},
}

#: The two rules, written before any variant was trained (their text and parameters live in
#: braintumor/decisions.toml as `loso_pick` and `all_source_default`), and what was done when the
#: written pick rule qualified no variant (`loso_fallback`, decided after the figures were seen).
MIN_OWN_VALIDATION_AUC = decision("loso_pick").parameters["min_own_validation_auc"]
TIE = decision("loso_pick").parameters["tie"]
PICK_RULE = decision("loso_pick").rule
FALLBACK_RULE = decision("loso_fallback").rule
MAX_MAIN_ACCURACY_LOSS = decision("all_source_default").parameters["max_main_accuracy_loss_points"] / 100
DEFAULT_RULE = decision("all_source_default").rule

#: `pick_variant`'s outcome when no variant clears the floor: the written rule has no fallback.
NO_VARIANT_QUALIFIED = "no variant qualified"


def pair_of(held_out: str) -> tuple[str, ...]:
    """The two training sources of the row that leaves `held_out` out, in `SOURCES` order."""
    if held_out not in SOURCES:
        raise ValueError(f"unknown source {held_out!r}; known: {SOURCES}")
    return tuple(source for source in SOURCES if source != held_out)


def variant_architecture(variant: str) -> dict:
    """`BASE_ARCHITECTURE` with the variant's changes."""
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    return {**BASE_ARCHITECTURE, **VARIANTS[variant]}


def variant_summary(rows: list[dict], variant: str) -> dict:
    """Worst and mean held-out ROC AUC of one variant over its three rows, and whether every
    pair model clears `MIN_OWN_VALIDATION_AUC` on both of its training sources' validation rows."""
    mine = [row for row in rows if row.get("variant") == variant]
    held_out = {row["held_out"]: row["held_out_figures"]["roc_auc"] for row in mine}
    if set(held_out) != set(SOURCES):
        raise ValueError(f"variant {variant!r} lacks rows for {sorted(set(SOURCES) - set(held_out))}; "
                         "run `python -m braintumor study loso train`")
    own = [figures["roc_auc"] for row in mine for figures in row["validation"].values()]
    return {"worst_held_out_auc": float(min(held_out.values())), "mean_held_out_auc": float(np.mean(list(held_out.values()))),
            "held_out_auc": held_out, "own_validation_ok": bool(min(own) >= MIN_OWN_VALIDATION_AUC)}


def _summaries(rows: list[dict]) -> dict:
    return {variant: variant_summary(rows, variant) for variant in VARIANTS
            if any(row.get("variant") == variant for row in rows)}


def _best(candidates: list[str], summaries: dict) -> str:
    """The highest worst held-out ROC AUC; within `TIE`, the higher mean, then the earlier variant."""
    best = candidates[0]
    for variant in candidates[1:]:
        gap = summaries[variant]["worst_held_out_auc"] - summaries[best]["worst_held_out_auc"]
        if gap > TIE or (abs(gap) <= TIE
                         and summaries[variant]["mean_held_out_auc"] > summaries[best]["mean_held_out_auc"]):
            best = variant
    return best


def pick_variant(rows: list[dict]) -> str:
    """The variant `PICK_RULE` picks from the study's rows (their held-out and validation figures
    only), as written: `NO_VARIANT_QUALIFIED` when no variant clears the floor."""
    summaries = _summaries(rows)
    eligible = [variant for variant in summaries if summaries[variant]["own_validation_ok"]]
    return _best(eligible, summaries) if eligible else NO_VARIANT_QUALIFIED


def fallback_variant(rows: list[dict]) -> str:
    """`FALLBACK_RULE` (decided after the figures were seen): the pick rule's ordering over every
    variant, the floor left out. The variant that trained the all-source model."""
    summaries = _summaries(rows)
    if not summaries:
        raise ValueError("the study has no rows; run `python -m braintumor study loso train`")
    return _best(list(summaries), summaries)


def trained_variant(rows: list[dict]) -> str:
    """The variant the all-source model is trained as: the written pick, else the fallback's."""
    picked = pick_variant(rows)
    return fallback_variant(rows) if picked == NO_VARIANT_QUALIFIED else picked


def all_source_is_default(picked_worst_auc: float, single_source_unseen_aucs: dict, all_source_main_val_accuracy: float,
                          single_source_main_val_accuracy: float) -> bool:
    """`DEFAULT_RULE`: True when the all-source model should be `predict`'s default."""
    return bool(picked_worst_auc > min(single_source_unseen_aucs.values())
                and all_source_main_val_accuracy >= single_source_main_val_accuracy - MAX_MAIN_ACCURACY_LOSS)
