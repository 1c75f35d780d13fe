"""Leave-one-source-out (LOSO) selection: how choices about scans from elsewhere are made.

Three training sources: A (`brain-tumor`, skull-stripped BraTS slices), B (`extra`, clinical
slices whose classes come from different collections) and C (`lgg`, FLAIR slices with both
classes from the same patients). Each recipe variant is trained on every pair of them and
scored on the source left out, as the domain-generalisation literature selects models
(leave-one-domain-out; Gulrajani and Lopez-Paz, "In Search of Lost Domain Generalization",
2021). The rules below read only those figures; the outside scans take no part, and neither
do any source's test rows, which stay for the confirmation of the model finally trained on
all three sources.

Written and committed before the first run of `scripts/loso_study.py`; `fallback_variant`
(decision `loso_fallback`) was added after its figures were seen, when the written pick rule
qualified no variant.
"""

from __future__ import annotations

import numpy as np

from ..decisions import decision
from . import configs

SOURCES = ("brain-tumor", "extra", "lgg")

#: The rows of a held-out source that the table scores: its train and validation rows (every
#: row the pair never saw, less the test rows kept for the final confirmation).
HELD_OUT_SPLITS = ("train", "val")

#: The study's training schedule and row caps are the all-source model's configuration
#: (`braintumor/configs/all-source.toml`): the improved recipe shortened so that the 2 x 3 pair
#: trainings and the final model fit a session on a shared 2-core CPU, and per training source
#: a class-stratified random sample of at most `TRAIN_CAP` train rows and `VAL_CAP` validation
#: rows (early stopping), seed fixed, the same for every variant. The pair models train as the
#: final all-source model does, so that the table describes it. Thresholds and the table's
#: validation figures use every validation row.
RECIPE = configs.training_recipe("all-source")
_CAPS = configs.row_caps("all-source")
TRAIN_CAP = _CAPS["brain-tumor"]["train"]
VAL_CAP = _CAPS["brain-tumor"]["val"]
if any(caps != _CAPS["brain-tumor"] for caps in _CAPS.values()):
    raise ValueError("all-source.toml: the study caps every source alike; give each the same train and val caps")

#: The architecture every variant shares: the two-source model's (source study row
#: AB_headcrop_intensity_geometric): head crop, gamma/gain/noise and geometric augmentation.
BASE_ARCHITECTURE = {"resolution": 128, "widths": [16, 32, 64, 128, 128], "head": "flatten", "dense_units": [64],
                     "augment": True, "preprocess": "head_crop", "photometric": True}

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


def capped(source, seed: int, train_cap: int = TRAIN_CAP, val_cap: int = VAL_CAP):
    """`source` with at most `train_cap` train and `val_cap` validation rows, sampled per class
    in proportion (seeded); its test rows are dropped (a pair model never needs them)."""
    from dataclasses import replace

    rng = np.random.default_rng(seed)
    keep = np.zeros(len(source.labels), bool)
    for split_name, cap in (("train", train_cap), ("val", val_cap)):
        rows = np.flatnonzero(source.split == split_name)
        if len(rows) <= cap:
            keep[rows] = True
            continue
        for label in (0, 1):
            of_label = rows[source.labels[rows] == label]
            take = int(round(cap * len(of_label) / len(rows)))
            keep[rng.choice(of_label, size=min(take, len(of_label)), replace=False)] = True
    return replace(source, images=source.images[keep], labels=source.labels[keep], names=source.names[keep],
                   groups=source.groups[keep], split=source.split[keep])


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
                         "run scripts/loso_study.py train")
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
        raise ValueError("the study has no rows; run scripts/loso_study.py train")
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


# --------------------------------------------------------------------------------------
# Reading the committed study (model/loso_study.json, written by scripts/loso_study.py)
# --------------------------------------------------------------------------------------

RECORD_FILE = "loso_study.json"
SHORT = {"brain-tumor": "A", "extra": "B", "lgg": "C"}


def read_record(model_dir=None) -> dict | None:
    """The committed study record, or None when it is not there."""
    import json
    from pathlib import Path

    from .. import config

    path = Path(model_dir or config.REPO_ROOT / config.MODEL_DIR) / RECORD_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def table_rows(record: dict) -> list[dict]:
    """One row per pair model, and per source the single-source model never saw: ROC AUC,
    sensitivity and specificity on the held-out source, the lowest ROC AUC over its training
    sources' validation rows, and the outside scans' figures once the score step has run."""
    rows = []
    single = record.get("single_source")
    if single:
        outside = record.get("shipped_scores", {}).get("single-source", {}).get("outside")
        for source in ("extra", "lgg"):
            rows.append(_table_row("single-source (shipped)", ["brain-tumor"], source, single["held_out"][source],
                                   single["validation"], outside))
    for row in record.get("rows", []):
        rows.append(_table_row(row["variant"], row["sources"], row["held_out"], row["held_out_figures"],
                               row["validation"], row.get("outside")))
    return rows


def _table_row(variant, sources, held_out, figures, validation, outside) -> dict:
    row = {"variant": variant, "trained on": " + ".join(SHORT[s] for s in sources), "held out": SHORT[held_out],
           "held-out ROC AUC": figures["roc_auc"], "held-out sensitivity": figures["sensitivity"],
           "held-out specificity": figures["specificity"],
           "own validation ROC AUC (lowest)": min(v["roc_auc"] for v in validation.values())}
    if outside:
        row.update({"outside ROC AUC": outside["roc_auc"], "outside sensitivity": outside["sensitivity"],
                    "outside specificity": outside["specificity"]})
    return row


def all_source_entry(record: dict, input_check: dict | None) -> dict | None:
    """`metrics.json`'s entry for the all-source model, a study record: what the study recorded
    of it (variant, threshold, validation figures, the confirmation scores) and `input_check`,
    the rule fitted on the pooled train rows of the three sources (what `predict` warns
    against), carried from the committed metrics.json. None when the study has not trained it
    or no input check was fitted."""
    final = (record or {}).get("all_source")
    if not final or input_check is None:
        return None
    return {"spec": "all-source", "model_file": final["model_file"], "variant": final["variant"],
            "threshold": final["threshold"], "validation": final["validation"],
            "scores": (record.get("shipped_scores") or {}).get("all-source"), "input_check": input_check}


def default_model_entry(record: dict | None) -> dict:
    """`metrics.json`'s `default_model`: the name `DEFAULT_RULE` chose, the rule and the figures it read."""
    if not record or "default_model" not in record:
        return {"name": "single-source", "rule": DEFAULT_RULE,
                "reason": "The leave-one-source-out study has not chosen yet, so the single-source model stays."}
    compared = record["all_source_compared"]
    return {"name": record["default_model"], "rule": DEFAULT_RULE, "compared": compared,
            "reason": (f"The picked variant's worst held-out-source ROC AUC is {compared['picked_worst_held_out_auc']:.4f} "
                       f"against {compared['single_source_worst_unseen_auc']:.4f} for the single-source model on the "
                       f"sources it never saw; A validation accuracy "
                       f"{record['all_source']['validation']['brain-tumor']['accuracy']:.4f} against "
                       f"{record['single_source']['validation']['brain-tumor']['accuracy']:.4f}.")}
