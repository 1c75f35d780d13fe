"""Records turned into what the templates print: verdicts and flat rows, so that the templates
only format. A cut-off that decides how a figure is worded lives here, named, not in Jinja."""

from __future__ import annotations

#: Below this specificity on scans from elsewhere, the model "calls most healthy brains 'tumour'".
MOST_HEALTHY_CALLED_TUMOUR = 0.5
#: Below this ROC AUC on scans from elsewhere, the model "does not carry" to them.
CARRIES_MIN_ROC_AUC = 0.8


def outside_verdict(outside: dict | None) -> str:
    """How the documents sum up a model's figures on scans from elsewhere: "not scored",
    "calls healthy tumour" (specificity below `MOST_HEALTHY_CALLED_TUMOUR`), "poor" (ROC AUC
    below `CARRIES_MIN_ROC_AUC`) or "lower" (carries, with lower figures than on its own set)."""
    if not outside:
        return "not scored"
    if outside["specificity"] < MOST_HEALTHY_CALLED_TUMOUR:
        return "calls healthy tumour"
    if outside["roc_auc"] < CARRIES_MIN_ROC_AUC:
        return "poor"
    return "lower"


def scores_on(metrics: dict, model_key: str, set_name: str) -> dict | None:
    """A study model's figures on one set as metrics.json keeps them (`metrics[model_key]["scores"][set_name]`),
    or None where that model or set was not scored."""
    return ((metrics.get(model_key) or {}).get("scores") or {}).get(set_name)


def new_scans_table(record: dict) -> dict:
    """The new-scans study as the documents show it: per variant its held-out-site ROC AUC (mean
    over the seeds run, and each seed's), its worst, its lowest A validation figures and whether
    it clears the floors; the single-source model on the same rows; `missing` rows; `pick`,
    `final`, `scores` and `targets` as recorded (None before their step)."""
    from ..studies.new_scans import model as new_scans_model, rule
    from ..studies.new_scans.rows import rows_to_run

    rows = record.get("rows", [])
    done = {row["name"] for row in rows}
    variants = []
    for variant in rule.VARIANTS:
        mine = [row for row in rows if row["variant"] == variant]
        if not mine:
            continue
        summary = rule.variant_summary(rows, variant, partial=True)  # the rule's own figures and floors
        per_site = {site: sorted((row["seed"], row["held_out_figures"]["roc_auc"]) for row in mine if row["held_out_site"] == site)
                    for site in rule.HELD_OUT_SITES}
        variants.append({"variant": variant, "per_site": per_site, "mean": summary["held_out_auc"],
                         "worst": summary["worst_held_out_auc"], "seeds": summary["seeds"],
                         "lowest_main_roc_auc": summary["lowest_main_val_roc_auc"],
                         "lowest_main_matched_roc_auc": summary["lowest_main_val_matched_roc_auc"],
                         "qualifies": summary["qualifies"],
                         "rows_per_second": [min(row["rows_per_second"] for row in mine), max(row["rows_per_second"] for row in mine)]})
    single = {site: figures["roc_auc"] for site, figures in record["single_source"]["held_out"].items()}
    return {"variants": variants, "single": single, "single_worst": min(single.values()),
            "missing": [name for name, _ in rows_to_run() if name not in done], "pick": record.get("pick"),
            "default_model": record.get("default_model"), "final": record.get("final"), "scores": record.get("scores"),
            "targets": new_scans_model.targets(record), "sites": list(rule.HELD_OUT_SITES),
            "floors": {"main": rule.MIN_MAIN_ROC_AUC, "matched": rule.MIN_MAIN_MATCHED_ROC_AUC, "margin": rule.MARGIN},
            "machine": sorted({row["machine"] for row in rows})}


def new_scans_rows(table: dict) -> list[dict]:
    """`new_scans_table`'s variants as flat rows (a notebook's DataFrame), the single-source model last."""
    rows = [{"variant": v["variant"], "seeds": ", ".join(map(str, v["seeds"])),
             **{f"left out {site}": v["mean"].get(site) for site in table["sites"]}, "worst site": v["worst"],
             "lowest A val. ROC AUC": v["lowest_main_roc_auc"], "lowest A matched ROC AUC": v["lowest_main_matched_roc_auc"],
             "clears the A floors": v["qualifies"]} for v in table["variants"]]
    rows.append({"variant": "single-source", **{f"left out {site}": table["single"][site] for site in table["sites"]},
                 "worst site": table["single_worst"]})
    return rows


def warning_rows(scores: dict, names: dict) -> list[dict]:
    """A model's held-out scores as flat rows, each set whole and split by whether `predict`'s
    input check warns on the scan (`figures_by_warning`); `names`: {score key: how to call the set}."""
    rows = []
    for key, name in names.items():
        whole, split = scores[key], scores[key].get("by_warning", {})
        rows.append({"set": name, "scans": whole["n"], "ROC AUC": whole["roc_auc"],
                     "sensitivity": whole["sensitivity"], "specificity": whole["specificity"],
                     **{f"ROC AUC, {part}": (split.get(part) or {}).get("roc_auc") for part in ("unwarned", "warned")},
                     **{f"scans, {part}": (split.get(part) or {}).get("n") for part in ("unwarned", "warned")}})
    return rows


#: What the templates may call.
VIEWS = {"outside_verdict": outside_verdict, "scores_on": scores_on, "new_scans_table": new_scans_table}
