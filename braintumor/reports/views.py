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


# ---------------------------------------------------------------- the studies' tables (docs/studies.md)

def resolution_table(record: dict) -> dict:
    """The resolution study (model/resolution_study.json) as docs/studies.md shows it: the
    reference CNN's `rows` by input side, each marked `chosen` where decision `resolution`
    (`selection.choose_resolution`) picks it; the rule's `max_megabytes`, the `recipe` and the
    `spread` of validation accuracy over the sides (best minus worst)."""
    from ..models.selection import MAX_MEGABYTES, choose_resolution

    study = record["reference"]
    chosen = choose_resolution(study["rows"])
    rows = [{**row, "chosen": row["resolution"] == chosen["resolution"]}
            for row in sorted(study["rows"], key=lambda row: row["resolution"])]
    accuracies = [row["val_accuracy"] for row in rows]
    return {"rows": rows, "chosen": chosen, "max_megabytes": MAX_MEGABYTES, "recipe": study["recipe"],
            "spread": max(accuracies) - min(accuracies)}


def screen_table(record: dict) -> dict:
    """The GPU screen (model/gpu_screen.json): `rows` best first, each history read as early
    stopping watching from `start_from_epoch` would read it (`selection.screen_summary`, with
    its default), and where it ran (`device`, `backend`, `keras`)."""
    import inspect

    from ..models.selection import screen_summary

    start = inspect.signature(screen_summary).parameters["start_from_epoch"].default
    return {"rows": screen_summary(record["rows"], start_from_epoch=start), "start_from_epoch": start,
            "device": record["device"], "backend": record["backend"], "keras": record["keras"]}


def search_table(record: dict) -> dict:
    """The CPU search (model/improved_search.json) in the order it ran: per candidate what the
    rule reads (seconds, the epoch early stopping watches from, the preprocessing, validation
    accuracy) and `excluded`, why decision `improved_cnn` passes it over ("slow": over the time
    limit, "stops early": early stopping watches too soon, "preprocess": not the required one; empty: eligible);
    `chosen` the row `selection.choose_improved` ships, and the rule's `limits`."""
    from ..models.recipes import RECIPES, REQUIRED_PREPROCESS
    from ..models.selection import MAX_TRAINING_SECONDS, choose_improved

    min_start = RECIPES["improved"]["start_from_epoch"]
    chosen = choose_improved(record["rows"])["name"]
    rows = []
    for row in record["rows"]:
        start, preprocess = row["recipe"].get("start_from_epoch", 0), row["architecture"].get("preprocess", "resize")
        excluded = [reason for reason, applies in (("slow", row["seconds"] > MAX_TRAINING_SECONDS),
                                                   ("stops early", start < min_start),
                                                   ("preprocess", preprocess != REQUIRED_PREPROCESS)) if applies]
        rows.append({"name": row["name"], "parameters": row["parameters"], "start_from_epoch": start, "preprocess": preprocess,
                     "val_accuracy": row["val_accuracy"], "val_loss": row["val_loss"],
                     "val_matched_roc_auc": row.get("val_matched_roc_auc"), "best_epoch": row["best_epoch"],
                     "epochs_run": row["epochs_run"], "seconds": row["seconds"], "excluded": excluded,
                     "chosen": row["name"] == chosen})
    return {"rows": rows, "chosen": chosen,
            "limits": {"minutes": MAX_TRAINING_SECONDS / 60, "start_from_epoch": min_start, "preprocess": REQUIRED_PREPROCESS}}


def cv_rerun_command(cv: dict) -> str:
    """The command that writes a cross-validation record again (`python -m braintumor study cv run`,
    its options read from the record's setup): `make cv` and `make cv-all` for the shipped recipe's."""
    from ..models import configs
    from ..models.recipes import SHIPPED_MEMBERS, SHIPPED_WEIGHTING, WEIGHTING_SETUP_NAMES

    setup, file = cv["setup"], cv["file"]
    pool_all = setup.get("pool") == "all"
    weighting = {name: key for key, name in WEIGHTING_SETUP_NAMES.items()}[setup.get("weighting")]
    options = ([f"--candidate {setup['candidate']}"] if setup["candidate"] != configs.load_config("single-source")["candidate"] else []) \
        + ([f"--weighting {weighting}"] if weighting != SHIPPED_WEIGHTING else []) \
        + ([f"--members {setup.get('members', 1)}"] if setup.get("members", 1) != SHIPPED_MEMBERS else [])
    default = "model/cv_all_scans.json" if pool_all else "model/cv_results.json"
    if not options and file == default:
        return "make cv-all" if pool_all else "make cv"
    return " ".join(["python -m braintumor study cv run", *(["--pool all"] if pool_all else []), *options, f"--out {file}"])


def cv_runs(files: dict) -> list[dict]:
    """Every cross-validation record among `files` (model/*.json by name): the `cv*.json` files, by name."""
    return [record for name, record in sorted(files.items()) if name.startswith("cv") and name.endswith(".json")]


def early_stopping_rows(files: dict) -> list[dict]:
    """Per cross-validation record (`cv_runs`) its row of `records.cv_recipe_rows` (where early
    stopping watches from, the folds' accuracy and epochs, the earliest restored epoch) and the
    `command` that writes it again."""
    from ..evaluation.records import cv_recipe_rows

    runs = cv_runs(files)
    return [{**row, "command": cv_rerun_command(cv)} for row, cv in zip(cv_recipe_rows(runs), runs)]


def matched_cv_rows(matched_cv: dict) -> list[dict]:
    """The cross-validated head-size-matched figures (`records.cross_validated_matched`, kept in
    metrics.json's `head_matching.cross_validation`) as flat rows: per record and way of scoring
    ("plain", "flip_average", "seed_ensemble") its pairs, ROC AUC entry and the folds' means."""
    rows = []
    for pool, entry in matched_cv.items():
        if pool == "decisions":
            continue
        for scoring in ("plain", "flip_average", "seed_ensemble"):
            if scoring in entry:
                rows.append({"file": entry["file"], "scans": entry["n_scans"], "weighting": entry["weighting"],
                             "scoring": scoring, "figures": entry[scoring]})
    return rows


#: What the templates may call.
VIEWS = {"outside_verdict": outside_verdict, "scores_on": scores_on, "new_scans_table": new_scans_table,
         "resolution_table": resolution_table, "screen_table": screen_table, "search_table": search_table,
         "early_stopping_rows": early_stopping_rows, "matched_cv_rows": matched_cv_rows, "cv_rerun_command": cv_rerun_command}
