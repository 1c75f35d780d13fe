"""Reading the committed held-out-site record (model/site_study.json, written by
`python -m braintumor study site`): the notebook's table and metrics.json's entries."""

from __future__ import annotations

from .rules import DEFAULT_RULE, HELD_OUT_SITES, MODEL_NAME


RECORD_FILE = "site_study.json"


def read_record(model_dir=None) -> dict | None:
    """The committed held-out-site record, or None when it is not there."""
    import json
    from pathlib import Path

    from ... import config

    path = Path(model_dir or config.REPO_ROOT / config.MODEL_DIR) / RECORD_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def table_rows(record: dict) -> list[dict]:
    """One row per held-out site: each variant's held-out-site ROC AUC, sensitivity and
    specificity and its A validation accuracy, beside the single-source model on the same rows."""
    rows = []
    single = record.get("single_source")
    for site in HELD_OUT_SITES:
        if single:
            figures = single["held_out"][site]
            rows.append({"held-out site": site, "model": "single-source (shipped)", "ROC AUC": figures["roc_auc"],
                         "sensitivity": figures["sensitivity"], "specificity": figures["specificity"],
                         "A validation accuracy": single["validation"]["brain-tumor"]["accuracy"]})
        for row in record.get("rows", []):
            if row["held_out_site"] == site:
                figures = row["held_out_figures"]
                rows.append({"held-out site": site, "model": f"{row['variant']} (A + LGG less {site})",
                             "ROC AUC": figures["roc_auc"], "sensitivity": figures["sensitivity"],
                             "specificity": figures["specificity"],
                             "A validation accuracy": row["validation"]["brain-tumor"]["accuracy"]})
    return rows


def model_entry(record: dict | None) -> dict | None:
    """`metrics.json`'s entry for the A + LGG model: what the study recorded of it (variant,
    threshold, validation figures, the confirmation scores) and the input-check rule fitted on
    the pooled train rows of A and LGG. None until the study's score step has run."""
    if not record or "final" not in record or "input_check" not in record:
        return None
    final = record["final"]
    return {"spec": MODEL_NAME, "model_file": final["model_file"], "variant": final["variant"],
            "threshold": final["threshold"], "validation": final["validation"], "scores": record.get("scores", {}).get(MODEL_NAME),
            "input_check": record["input_check"]["rule"], "input_check_firing_rate": record["input_check"]["firing_rate"]}


def default_model_entry(record: dict | None, earlier: dict) -> dict:
    """`metrics.json`'s `default_model`: the name `DEFAULT_RULE` chose, the rule and the figures it
    read; until the study has chosen, `earlier` (the leave-one-source-out rule's entry) stays."""
    if not record or "default_model" not in record:
        return earlier
    compared = record["compared"]
    picked = compared["picked_worst_held_out_auc"]
    return {"name": record["default_model"], "rule": DEFAULT_RULE, "compared": compared, "earlier": earlier,
            "reason": (f"Site pick: {record['pick']['outcome']}. "
                       + (f"Worst held-out-site ROC AUC {picked:.4f} against {compared['single_source_worst_held_out_auc']:.4f} "
                          "for the single-source model on the same rows; " if picked is not None else "")
                       + f"A validation accuracy {record['final']['validation']['brain-tumor']['accuracy']:.4f} against "
                       f"{record['single_source']['validation']['brain-tumor']['accuracy']:.4f}.")}
