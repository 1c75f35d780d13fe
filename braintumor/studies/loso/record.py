"""Reading the committed leave-one-source-out record (model/loso_study.json, written by
python -m braintumor study loso): the notebook's table and metrics.json's entries."""

from __future__ import annotations

from ...models import configs
from .rules import DEFAULT_RULE


RECORD_FILE = "loso_study.json"
#: Each source's short name, as every document names it (braintumor/configs/datasets.toml).
SHORT = {key: dataset["short"] for key, dataset in configs.datasets().items() if key in ("brain-tumor", "extra", "lgg")}


def read_record(model_dir=None) -> dict | None:
    """The committed study record, or None when it is not there."""
    import json
    from pathlib import Path

    from ... import config

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
