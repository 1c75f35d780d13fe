"""Recompute the recorded ROC AUC intervals with the current `bootstrap_auc_interval`, without training.

    python scripts/recompute_auc_intervals.py            # rewrite the records it can recompute
    python scripts/recompute_auc_intervals.py --check    # only report what would change

The intervals in the records were computed when each record was written. When the interval
method changes (issue 38: a hand-written percentile bootstrap became scipy's BCa), the ones
whose per-scan probabilities are still at hand are recomputed here, and nothing else in the
records moves:

* the cross-validations' out-of-fold matched-pair figures (`CV_FILES`): each record keeps every
  pooled scan's out-of-fold probability, and the pool's head areas come from data/image_data.npz
  (`python -m braintumor prepare`); `out_of_fold_matched_summary` is run again on them, as
  `python -m braintumor study cv run` ran it after its last fold;
* metrics.json's copy of them (`head_matching.cross_validation`, `cross_validated_matched`);
* with `--rescore`, the figures of the committed model files (model/*.keras), scored again on
  the sets they were scored on, by the very functions that scored them: re-scoring the same
  weights on the same rows is no new look at held-out data: metrics.json's single-source and
  two-source entries (model.ipynb), the two-source, all-source, A + LGG and new-scans models'
  scores and validation figures in the leave-one-source-out, held-out-site and new-scans
  studies, and metrics.json's copies of those. Needs the prepared data of A, B and LGG and
  $BRAIN_TUMOR_EXTERNAL (the outside scans).

Before an interval is replaced, every other figure of the recomputed entry must equal the
recorded one (counts exactly; ROC AUC, head-area medians and other numbers to 1e-9 from stored
probabilities, to `RESCORED_TOLERANCE` from a re-scoring, which moves a probability by about
1e-5 on another CPU), so a record that does not describe these probabilities stops the script
instead of being patched. Figures of models that were not kept (the baselines' forests and the
reference CNN of model.ipynb, the study rows trained per fold in build/, the earlier
single-source model (threshold 0.3648) that the studies scored as their baseline, the peer)
cannot be recomputed without training or the peer's package, and are left as they are.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from braintumor import config  # noqa: E402
from braintumor.models import configs  # noqa: E402
from braintumor.evaluation.records import (CV_FILES, _clean, cross_validated_matched, read_cv_records,  # noqa: E402
                                          write_json)

#: How far a recomputed point figure may be from the recorded one: the same numbers recomputed,
#: and the same weights re-scored (as `records.rescored_differences` allows for another CPU).
TOLERANCE = 1e-9
RESCORED_TOLERANCE = 1e-4
_tolerance = [TOLERANCE]
#: The largest difference seen between a recorded and a recomputed number.
largest = [0.0]


def _plain(value):
    """`value` as its JSON record holds it (NaN as None, tuples as lists)."""
    return json.loads(json.dumps(_clean(value)))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _same(recorded, recomputed, where: str) -> None:
    """Stop unless every figure of `recorded` is in `recomputed`, equal (numbers to the
    tolerance), intervals aside."""
    if isinstance(recorded, dict):
        if not set(recorded) <= set(recomputed):  # figures added to the code since are not in older records
            raise SystemExit(f"{where}: recorded {sorted(set(recorded) - set(recomputed))}, not recomputed")
        for key in recorded:
            if key != "roc_auc_ci95" and not (key == "ci95" and isinstance(recorded[key], dict)):
                _same(recorded[key], recomputed[key], f"{where}.{key}")
            elif key == "ci95":  # the proportions' Wilson intervals do not change
                _same({k: v for k, v in recorded[key].items() if k != "roc_auc"},
                      {k: v for k, v in recomputed[key].items() if k != "roc_auc"}, f"{where}.ci95")
    elif isinstance(recorded, list):
        if len(recorded) != len(recomputed):
            raise SystemExit(f"{where}: {len(recorded)} items recorded, {len(recomputed)} recomputed")
        for i, (a, b) in enumerate(zip(recorded, recomputed)):
            _same(a, b, f"{where}[{i}]")
    elif _missing(recorded) and _missing(recomputed):
        pass
    elif isinstance(recorded, float) or isinstance(recomputed, float):
        if recorded is None or recomputed is None or not math.isclose(recorded, recomputed, rel_tol=0,
                                                                      abs_tol=_tolerance[0]):
            raise SystemExit(f"{where}: recorded {recorded!r}, recomputed {recomputed!r}")
        largest[0] = max(largest[0], abs(recorded - recomputed))
    elif recorded != recomputed:
        raise SystemExit(f"{where}: recorded {recorded!r}, recomputed {recomputed!r}")


def transplant_intervals(recorded, recomputed, where: str, changes: list) -> None:
    """Copy every ROC AUC interval of `recomputed` into `recorded` (in place), after `_same`
    has checked that everything else agrees; note each (where, old, new) in `changes`."""
    _same(recorded, recomputed, where)
    if isinstance(recorded, dict):
        for key, value in recorded.items():
            if key == "roc_auc_ci95":
                new = [float(bound) for bound in recomputed[key]]
                changes.append((f"{where}.{key}", value, new))
                recorded[key] = new
            elif key == "ci95" and isinstance(value, dict) and "roc_auc" in value:
                new = [float(bound) for bound in recomputed[key]["roc_auc"]]
                changes.append((f"{where}.ci95.roc_auc", value["roc_auc"], new))
                value["roc_auc"] = new
            elif isinstance(value, (dict, list)):
                transplant_intervals(value, recomputed[key], f"{where}.{key}", changes)
    elif isinstance(recorded, list):
        for i, (a, b) in enumerate(zip(recorded, recomputed)):
            if isinstance(a, (dict, list)):
                transplant_intervals(a, b, f"{where}[{i}]", changes)


def cross_validation_records(model_dir: Path, changes: list) -> dict:
    """The `CV_FILES` records with their matched-pair intervals recomputed from the out-of-fold
    probabilities they keep ({file name: record}; absent or unfinished records are skipped)."""
    from braintumor.data.dataset import load_npz
    from braintumor.data.splits import split_masks
    from braintumor.evaluation.shortcut import out_of_fold_matched_summary, slice_cues
    from braintumor.models.recipes import CV_VARIANT_KEYS

    dataset = load_npz()
    masks = split_masks(dataset.names)
    head_area = slice_cues(dataset.images)["head_area"].to_numpy()
    updated = {}
    for name in CV_FILES.values():
        path = model_dir / name
        record = json.loads(path.read_text()) if path.is_file() else None
        if not record or not record.get("matched_pairs"):
            continue
        pool = (np.arange(len(dataset.names)) if record["setup"].get("pool") == "all"
                else np.flatnonzero(masks["train"] | masks["val"]))
        if len(pool) != record["n_images"]:
            raise SystemExit(f"{name}: {record['n_images']} pooled scans recorded, {len(pool)} in data/image_data.npz")
        variants = record["out_of_fold"]
        folds = {variant: record["models"][CV_VARIANT_KEYS[variant]]["folds"] for variant in variants}
        recomputed = out_of_fold_matched_summary(dataset.labels[pool], head_area[pool], variants, folds)
        transplant_intervals(record["matched_pairs"], _plain(recomputed), f"{name}:matched_pairs",
                             changes)
        updated[name] = record
    return updated


def _rescored(model_dir: Path, metrics: dict, changes: list) -> dict:
    """The records whose figures of committed model files are re-scored ({file name: record})."""
    from braintumor.data.external import find_external_dir, load_external
    from braintumor.data.sources import load_sources
    from braintumor.evaluation.metrics import binary_metrics
    from braintumor.evaluation.records import score_everywhere
    from braintumor.evaluation.shortcut import head_size_matched_pairs, matched_metrics, slice_cues, tertile_metrics
    from braintumor.models.networks import load_model, predict_tumour_probability
    from braintumor.studies import base, held_out
    from braintumor.studies.loso import scoring as loso_scoring
    from braintumor.studies.loso import rules as loso_rules
    from braintumor.studies.loso.record import all_source_entry
    from braintumor.studies.new_scans import model as new_scans_model
    from braintumor.studies.site import rules as site_rules
    from braintumor.studies.site import steps as site_steps
    from braintumor.studies.site.record import model_entry as a_lgg_entry

    _tolerance[0] = RESCORED_TOLERANCE
    outside_dir = find_external_dir()
    if outside_dir is None:
        raise SystemExit("--rescore: set BRAIN_TUMOR_EXTERNAL to the outside scans (they were scored with these weights)")
    outside = load_external(outside_dir)
    a, b, lgg = load_sources(loso_rules.SOURCES)  # A, B and LGG as `prepare` packed and split them
    by_name = dict(zip(loso_rules.SOURCES, (a, b, lgg)))
    sets = held_out.held_out_sets(a, lgg)
    records = {name: json.loads((model_dir / name).read_text())
               for name in ("loso_study.json", "site_study.json", "new_scans_study.json")}

    # metrics.json, as model.ipynb scored the shipped single-source model and the two-source model
    shipped, threshold = load_model(config.REPO_ROOT / config.MODEL_PATH), metrics["threshold"]
    test = a.part("test")
    probability = predict_tumour_probability(shipped, test["images"])
    head_area = slice_cues(test["images"])["head_area"].to_numpy()
    unique = np.sort(np.unique(outside.sha256, return_index=True)[1])
    outside_probability = predict_tumour_probability(shipped, outside.images)
    entry = {**binary_metrics(test["labels"], probability, threshold),
             "head_matched": matched_metrics(test["labels"], probability, threshold,
                                             head_size_matched_pairs(head_area, test["labels"]), head_area),
             "head_area_tertiles": tertile_metrics(head_area, test["labels"], probability, threshold),
             "outside": binary_metrics(outside.labels, outside_probability, threshold),
             "outside_unique": binary_metrics(outside.labels[unique], outside_probability[unique], threshold),
             "everywhere": score_everywhere(shipped, threshold, a, b, outside)}
    recorded = metrics["models"]["improved_cnn"]
    recomputed = _plain(entry)
    transplant_intervals({key: recorded[key] for key in recomputed}, recomputed, "metrics.json:models.improved_cnn",
                         changes)
    transplant_intervals(metrics["test"], {key: recorded[key] for key in metrics["test"]}, "metrics.json:test", changes)
    two = metrics["two_source"]
    two_scores = score_everywhere(load_model(config.REPO_ROOT / configs.model_file("two-source")), two["threshold"], a, b, outside)
    transplant_intervals(two["scores"], _plain(two_scores), "metrics.json:two_source.scores", changes)

    print("rescored:", len(changes), "intervals so far", flush=True)
    # The studies' "single-source" figures (their scores and baselines, threshold 0.3648) are of
    # an earlier single-source model whose weights were not kept, so they stay as they are.
    # The leave-one-source-out study: the two-source and all-source models' scores (not its rows:
    # their models are not kept) and the all-source model's validation figures.
    loso = records["loso_study.json"]
    scored = loso_scoring.score({**loso, "rows": []}, by_name, outside)["shipped_scores"]
    for name in ("two-source", loso_scoring.MODEL_NAME):
        transplant_intervals(loso["shipped_scores"][name], _plain(scored[name]), f"loso_study.json:shipped_scores.{name}",
                             changes)
    final = loso["all_source"]
    validation = loso_scoring.validation_figures_of(load_model(config.REPO_ROOT / configs.model_file("all-source")),
                                                    [by_name[name] for name in loso_rules.SOURCES], final["threshold"])
    transplant_intervals(final["validation"], _plain(validation), "loso_study.json:all_source.validation", changes)

    print("rescored:", len(changes), "intervals so far", flush=True)
    # the held-out-site study: the A + LGG model's scores and validation figures
    site = records["site_study.json"]
    scored = site_steps.score({**site, "rows": []}, a, lgg, sets)["scores"][site_rules.MODEL_NAME]
    transplant_intervals(site["scores"][site_rules.MODEL_NAME], _plain(scored),
                         f"site_study.json:scores.{site_rules.MODEL_NAME}", changes)
    validation = base.validation_figures(load_model(config.REPO_ROOT / configs.model_file("a-lgg")), [a, lgg],
                                         site["final"]["threshold"])
    transplant_intervals(site["final"]["validation"], _plain(validation), "site_study.json:final.validation", changes)

    print("rescored:", len(changes), "intervals so far", flush=True)
    # the new-scans study: the final model's scores (the same weights: `weights_sha256` must agree) and validation
    new_scans = records["new_scans_study.json"]
    scored = new_scans_model.score(new_scans, sets, lgg)
    transplant_intervals(new_scans["scores"], _plain(scored), "new_scans_study.json:scores", changes)
    validation = base.validation_figures(load_model(config.REPO_ROOT / configs.model_file("new-scans")), [a, lgg],
                                         new_scans["final"]["threshold"])
    transplant_intervals(new_scans["final"]["validation"], _plain(validation), "new_scans_study.json:final.validation",
                         changes)

    print("rescored:", len(changes), "intervals so far", flush=True)
    # metrics.json's copies of the studies' models, as model.ipynb builds them
    copies = {"all_source": all_source_entry(loso, metrics["all_source"]["input_check"]), "a_lgg": a_lgg_entry(site),
              "new_scans": new_scans_model.model_entry(new_scans)}
    for key, entry in copies.items():
        for part in ("validation", "scores"):
            transplant_intervals(metrics[key][part], _plain(entry[part]), f"metrics.json:{key}.{part}", changes)
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report the changes, write nothing")
    parser.add_argument("--rescore", action="store_true",
                        help="also re-score the committed model files on the sets they were scored on (minutes)")
    args = parser.parse_args(argv)
    model_dir = config.REPO_ROOT / config.MODEL_DIR
    changes: list = []
    updated = cross_validation_records(model_dir, changes)
    metrics_path = config.REPO_ROOT / config.METRICS_PATH
    metrics = json.loads(metrics_path.read_text())
    # metrics.json repeats the cross-validations' matched-pair figures, as model.ipynb builds them
    cv_runs = {**read_cv_records(model_dir),
               **{pool: updated[name] for pool, name in CV_FILES.items() if name in updated}}
    transplant_intervals(metrics["head_matching"]["cross_validation"], _plain(cross_validated_matched(cv_runs)),
                         "metrics.json:head_matching.cross_validation", changes)
    if args.rescore:
        updated.update(_rescored(model_dir, metrics, changes))
    updated[metrics_path.name] = metrics
    for where, old, new in changes:
        print(f"{where}: [{old[0]:.4f}, {old[1]:.4f}] -> [{new[0]:.4f}, {new[1]:.4f}]")
    print(f"{len(changes)} intervals; largest difference of any other recorded figure: {largest[0]:.1e}")
    if not args.check:
        for name, record in updated.items():
            write_json(model_dir / name, record)
        print("wrote", ", ".join(sorted(updated)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
