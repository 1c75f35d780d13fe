"""Held-out-site selection for the model trained on A and the LGG FLAIR slices (LGG).

The leave-one-source-out study (`studies.loso`) showed two things: set B teaches collections
(models that never trained on it score it below chance, and trivial cues reach ROC AUC 0.97
on it), and LGG, whose two classes come from the same patients, is the source that carries a
network to scans from elsewhere. So B stays out of training, and the question "does this
recipe hold on a hospital it never saw?" is asked inside LGG, whose patients come from four
contributing sites: each row trains on A plus every LGG site but one, and is scored on the
site it never saw (that site's train and validation rows; its test rows stay for the final
confirmation). EZ has a single patient and always trains.

The rules here (`site_pick`, `site_default`, and the threshold rule `pooled_threshold`, whose
text and parameters live in braintumor/decisions.toml) were written and committed before the
first row of `scripts/site_study.py train` ran. Neither the outside scans, nor set B, nor any
test row takes part in them.
"""

from __future__ import annotations

import numpy as np

from ...decisions import decision
from ...models import configs

#: The LGG sites left out in turn, and those that always train (too few patients to leave out).
HELD_OUT_SITES = ("CS", "DU", "FG")
ALWAYS_TRAINS = ("EZ",)

#: The rows of a held-out site that a row is scored on: every row of it the row never saw,
#: less its test rows, which stay for the confirmation of the final model.
HELD_OUT_SPLITS = ("train", "val")

#: The model the study is for (its configuration: model/studies/a-lgg/config.toml).
MODEL_NAME = "a-lgg"

#: The study's schedule and architecture are the A + LGG model's configuration
#: (`model/studies/a-lgg/config.toml`): the improved recipe (cosine decay, early stopping on
#: validation loss) over 12 epochs, watching from epoch 8, and the shipped head-crop network with
#: geometric and photometric augmentation. The full 30-epoch recipe costs about an hour per row on
#: the 2-core AMD EPYC this ran on (0.85 s a training step, measured before the first row). The
#: final model uses the same schedule, so the table describes it. Rows are not capped.
RECIPE = configs.training_recipe(MODEL_NAME)

#: The architecture the variants share, as JSON records hold it (lists, not tuples).
BASE_ARCHITECTURE = {key: list(value) if isinstance(value, tuple) else value
                     for key, value in configs.architecture(MODEL_NAME).items()}

#: The variants compared, in order (ties go to the earlier one). One variant, because each row
#: costs about 20 minutes of this CPU: the rules below are written for any number.
VARIANTS = {"photometric": {}}

#: The training sources: A and LGG. B is evaluation only (decision `b_out_of_training`).
TRAINING_SOURCES = ("brain-tumor", "lgg")

PICK_RULE = decision("site_pick").rule
MAX_MAIN_ACCURACY_LOSS = decision("site_pick").parameters["max_main_accuracy_loss_points"] / 100
TIE = decision("site_pick").parameters["tie"]
DEFAULT_RULE = decision("site_default").rule
NO_VARIANT_QUALIFIED = "no variant qualified"


def site_of(names) -> np.ndarray:
    """The contributing site of each packed LGG slice name (`TCGA_<site>_<patient>_<date>/<n>`)."""
    return np.array([str(name).split("/", 1)[0].split("_")[1] for name in names])


def without_site(source, site: str):
    """The LGG `source` with every row of `site` removed, whatever its split (the row never sees it)."""
    if site not in HELD_OUT_SITES:
        raise ValueError(f"unknown held-out site {site!r}; choose one of {HELD_OUT_SITES}")
    return source.subset(site_of(source.names) != site)


def held_out_rows(source, site: str) -> dict:
    """`site`'s train and validation rows of the LGG `source`: images, labels, names."""
    mask = (site_of(source.names) == site) & np.isin(source.split, HELD_OUT_SPLITS)
    if not mask.any():
        raise ValueError(f"the LGG source holds no train or validation row of site {site!r}")
    return {"images": source.images[mask], "labels": source.labels[mask], "names": source.names[mask]}


def variant_architecture(variant: str) -> dict:
    """`BASE_ARCHITECTURE` with the variant's changes."""
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    return {**BASE_ARCHITECTURE, **VARIANTS[variant]}


def variant_summary(rows: list[dict], variant: str, single_source_main_val_accuracy: float) -> dict:
    """Worst and mean held-out-site ROC AUC of one variant over its rows (one per site in
    `HELD_OUT_SITES`), its lowest A validation accuracy, and whether that is within
    `MAX_MAIN_ACCURACY_LOSS` of the single-source model's."""
    mine = {row["held_out_site"]: row for row in rows if row.get("variant") == variant}
    missing = sorted(set(HELD_OUT_SITES) - set(mine))
    if missing:
        raise ValueError(f"variant {variant!r} lacks rows for sites {missing}; run `python -m braintumor study site train`py train")
    held_out = {site: float(mine[site]["held_out_figures"]["roc_auc"]) for site in HELD_OUT_SITES}
    main_accuracy = min(float(mine[site]["validation"]["brain-tumor"]["accuracy"]) for site in HELD_OUT_SITES)
    return {"worst_held_out_auc": min(held_out.values()), "mean_held_out_auc": float(np.mean(list(held_out.values()))),
            "held_out_auc": held_out, "lowest_main_val_accuracy": main_accuracy,
            "qualifies": bool(main_accuracy >= single_source_main_val_accuracy - MAX_MAIN_ACCURACY_LOSS)}


def pick_variant(rows: list[dict], single_source_main_val_accuracy: float) -> dict:
    """`PICK_RULE`, as written, with its written fallback.

    Returns {"outcome": the picked variant or `NO_VARIANT_QUALIFIED`, "candidate": the
    variant trained on A + every site (the picked one, or under the fallback the one with the
    highest lowest A validation accuracy), "summaries": per variant}.
    """
    summaries = {variant: variant_summary(rows, variant, single_source_main_val_accuracy) for variant in VARIANTS}
    qualified = [variant for variant in VARIANTS if summaries[variant]["qualifies"]]
    if not qualified:
        candidate = max(VARIANTS, key=lambda v: (summaries[v]["lowest_main_val_accuracy"], -list(VARIANTS).index(v)))
        return {"outcome": NO_VARIANT_QUALIFIED, "candidate": candidate, "summaries": summaries}
    best = qualified[0]
    for variant in qualified[1:]:
        gap = summaries[variant]["worst_held_out_auc"] - summaries[best]["worst_held_out_auc"]
        if gap > TIE or (abs(gap) <= TIE and summaries[variant]["mean_held_out_auc"] > summaries[best]["mean_held_out_auc"]):
            best = variant
    return {"outcome": best, "candidate": best, "summaries": summaries}


def site_model_is_default(pick: dict, single_source_held_out_aucs: dict, final_main_val_accuracy: float,
                          single_source_main_val_accuracy: float) -> bool:
    """`DEFAULT_RULE`: True when the A + LGG model should be `predict`'s default."""
    if pick["outcome"] == NO_VARIANT_QUALIFIED:
        return False
    picked_worst = pick["summaries"][pick["outcome"]]["worst_held_out_auc"]
    return bool(picked_worst > min(single_source_held_out_aucs[site] for site in HELD_OUT_SITES)
                and final_main_val_accuracy >= single_source_main_val_accuracy - MAX_MAIN_ACCURACY_LOSS)
