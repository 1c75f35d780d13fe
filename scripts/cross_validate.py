"""Stratified, grouped 5-fold cross-validation of the improved CNN and the image-feature forest.

Runs over the train and validation rows only (the test rows stay unseen). Groups are the
byte-identical duplicate groups, so copies never straddle folds. Within each fold the
CNN's early stopping and threshold use an inner validation slice of the training folds,
exactly as `model.ipynb` uses the validation rows. Results go to `model/cv_results.json`
after every fold, so an interrupted run resumes where it stopped.

    python scripts/cross_validate.py          (make cv; about 5 x the shipped model's training time)

`--candidate NAME --out model/cv_NAME.json` cross-validates another row of the search
instead of the winner, to compare recipes on more than one validation split.
Every fold also scores the network averaged over each scan and its mirror image (the
decision `models.recipes.FLIP_AVERAGE_RULE` takes), and the out-of-fold probabilities are
kept, so the head-size-matched pairs of the whole pool (about four times the test rows'
pairs) give the matched-pair ROC AUC of the recipe, not of one split.

Training weights follow the shipped recipe (`models.recipes.SHIPPED_WEIGHTING`);
`--weighting none --out model/cv_g1_unweighted.json` reruns the same recipe without them,
the record `HEAD_AREA_WEIGHTING_RULE` compares with.

`--members N --out model/cv_seed_ensemble.json` also trains N - 1 more networks per fold from
the next seeds and scores their mean ("seed_ensemble"; threshold chosen on the mean's inner
validation probabilities) beside the first network alone, the record `SEED_ENSEMBLE_RULE` reads.

`--pool all` folds all 3762 scans (test rows included) into `model/cv_all_scans.json`: the
README's headline estimate, where each fold sets its own early stopping and threshold.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold
from tqdm import tqdm

from braintumor import config
from braintumor.data.dataset import load_npz
from braintumor.evaluation.records import write_json
from braintumor.data.features import forest_probability, image_features, train_forest
from braintumor.evaluation.metrics import binary_metrics, choose_threshold, fold_mean_std
from braintumor.models.networks import (architecture_from_json, choose_improved, ensemble_members, flip_averaged_probability,
                               library_versions, predict_tumour_probability, train_seed_ensemble)
from braintumor.evaluation.shortcut import (head_area_training_weights, head_size_matched_pairs, matched_metrics,
                                 out_of_fold_matched_summary, slice_cues)
from braintumor.data.splits import group_ids, grouped_stratified_split, split_masks
from braintumor.models.recipes import (CV_VARIANT_KEYS, SHIPPED_MEMBERS, SHIPPED_WEIGHTING, WEIGHTING_SETUP_NAMES,
                                         member_seeds)

FOLDS = 5
CV_ALL_PATH = config.MODEL_DIR / "cv_all_scans.json"
#: The CNN's two ways of scoring a scan: as it is, and averaged with its mirror image; with
#: --members N > 1, a third: the mean of the N networks' probabilities.
VARIANTS = {variant: CV_VARIANT_KEYS[variant] for variant in ("plain", "flip_average")}
ENSEMBLE_VARIANT = {"seed_ensemble": CV_VARIANT_KEYS["seed_ensemble"]}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", help="a name in model/improved_search.json (default: the shipped winner)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where the JSON goes (default: {config.CV_PATH}, or {CV_ALL_PATH} with --pool all)")
    parser.add_argument("--pool", choices=("trainval", "all"), default="trainval",
                        help="the scans to fold: the train and validation rows (default), or all scans, test rows "
                             "included, for the headline estimate")
    parser.add_argument("--weighting", choices=("none", "head_area"), default=SHIPPED_WEIGHTING,
                        help="head_area: weigh training scans so that head size does not predict the label; "
                             f"default: the shipped recipe's ({SHIPPED_WEIGHTING}, models.recipes.SHIPPED_WEIGHTING)")
    parser.add_argument("--members", type=int, default=SHIPPED_MEMBERS,
                        help="networks per fold, from seeds SEED, SEED + 1, ...; above 1 the record also scores "
                             "their mean (seed_ensemble) beside the first alone; default: the shipped model's "
                             f"({SHIPPED_MEMBERS}, models.recipes.SHIPPED_MEMBERS)")
    args = parser.parse_args(argv)
    if args.members < 1:
        parser.error(f"--members must be at least 1, not {args.members}")
    variants = {**VARIANTS, **(ENSEMBLE_VARIANT if args.members > 1 else {})}
    args.out = args.out or (CV_ALL_PATH if args.pool == "all" else config.CV_PATH)
    # By default the candidate model.ipynb ships: the search's winner on the validation rows.
    rows = json.loads((config.MODEL_DIR / "improved_search.json").read_text())["rows"]
    if args.candidate:
        named = [row for row in rows if row["name"] == args.candidate]
        if not named:
            parser.error(f"no candidate named {args.candidate!r} in model/improved_search.json; "
                         f"known: {', '.join(row['name'] for row in rows)}")
        choice = {**named[0], "architecture": architecture_from_json(named[0]["architecture"])}
    else:
        choice = choose_improved(rows)
    architecture, recipe = choice["architecture"], choice["recipe"]
    setup = {"candidate": choice["name"], "architecture": architecture, "recipe": recipe, "seed": config.SEED,
             **({"pool": "all"} if args.pool == "all" else {}),
             **({"weighting": WEIGHTING_SETUP_NAMES[args.weighting]} if args.weighting != "none" else {}),
             **({"members": args.members, "member_seeds": member_seeds(args.members)} if args.members > 1 else {})}
    dataset = load_npz()
    masks = split_masks(dataset.names)
    pool = np.arange(len(dataset.names)) if args.pool == "all" else np.flatnonzero(masks["train"] | masks["val"])
    labels = dataset.labels[pool]
    groups = group_ids(dataset.names, dataset.duplicate_groups)[pool]
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    # Resumed only from a record of the same setup that kept its out-of-fold probabilities.
    same = previous.get("setup") == json.loads(json.dumps(setup)) and "out_of_fold" in previous
    resume = previous if same else {}
    results = {
        "folds": FOLDS,
        "n_images": int(len(pool)),
        "file": str(args.out),
        "setup": setup,
        "versions": library_versions(),
        "models": resume.get("models", {**{key: {"folds": []} for key in variants.values()},
                                        "forest_image_features": {"folds": []}}),
        "out_of_fold": resume.get("out_of_fold", {variant: [None] * len(pool) for variant in variants}),
    }
    # The pooled scans, gathered once (fancy indexing copies): every fold indexes into them.
    x, y = dataset.images[pool], labels
    features = image_features(x[..., 0])
    head_area = slice_cues(x)["head_area"].to_numpy()
    splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=config.SEED)
    fold_splits = splitter.split(np.zeros(len(pool)), labels, groups)
    for fold, (train_part, held_out) in enumerate(tqdm(fold_splits, total=FOLDS, desc="cross-validation", unit="fold")):
        if fold < len(results["models"]["improved_cnn"]["folds"]):
            print(f"fold {fold + 1}: already done, kept")
            continue
        inner = grouped_stratified_split(labels[train_part], groups[train_part], test_fraction=0.0,
                                         val_fraction=0.2, seed=config.SEED + fold)
        fit_index, stop_index = train_part[inner == "train"], train_part[inner == "val"]
        weights = {}
        if args.weighting == "head_area":
            weights = head_area_training_weights(head_area[fit_index], y[fit_index], head_area[stop_index], y[stop_index])
        ensemble, fits = train_seed_ensemble(architecture, recipe, x[fit_index], y[fit_index], x[stop_index],
                                             y[stop_index], members=args.members, **weights)
        networks = ensemble_members(ensemble)
        stop_each = [predict_tumour_probability(network, x[stop_index]) for network in networks]
        held_each = [predict_tumour_probability(network, x[held_out]) for network in networks]
        # The first network alone is exactly the single-network recipe (seed config.SEED).
        fitted, stop_plain, held_plain = fits[0], stop_each[0], held_each[0]
        scores = {"plain": (stop_plain, held_plain),
                  "flip_average": (flip_averaged_probability(networks[0], x[stop_index], stop_plain),
                                   flip_averaged_probability(networks[0], x[held_out], held_plain))}
        if args.members > 1:
            scores["seed_ensemble"] = (np.mean(stop_each, axis=0), np.mean(held_each, axis=0))
        fold_pairs = head_size_matched_pairs(head_area[held_out], y[held_out])
        entries = {}
        for variant, (stop_probability, held_probability) in scores.items():
            threshold = choose_threshold(y[stop_index], stop_probability)
            entry = binary_metrics(y[held_out], held_probability, threshold, with_ci=False)
            matched = matched_metrics(y[held_out], held_probability, threshold, fold_pairs)
            entry["matched"] = {name: matched[name] for name in ("n_pairs", "accuracy", "sensitivity",
                                                                  "specificity", "roc_auc")}
            trained = fits if variant == "seed_ensemble" else [fitted]
            entry.update(fold=fold + 1, epochs_run=fitted.epochs_run, best_epoch=fitted.best_epoch,
                         train_seconds=round(sum(run.seconds for run in trained), 1))
            if variant == "seed_ensemble":
                entry.update(member_epochs_run=[run.epochs_run for run in trained],
                             member_best_epochs=[run.best_epoch for run in trained])
            entries[variants[variant]] = entry
            for position, probability in zip(held_out.tolist(), held_probability.tolist()):
                results["out_of_fold"][variant][position] = round(probability, 6)
        cnn = entries["improved_cnn"]
        started = time.perf_counter()
        forest, _ = train_forest(features[train_part], y[train_part], seed=config.SEED)
        trees = binary_metrics(y[held_out], forest_probability(forest, features[held_out]), 0.5, with_ci=False)
        trees.update(fold=fold + 1, train_seconds=round(time.perf_counter() - started, 1))
        for key, entry in (*entries.items(), ("forest_image_features", trees)):
            results["models"][key]["folds"].append(entry)
            results["models"][key]["summary"] = fold_mean_std(results["models"][key]["folds"]) if fold else None
        print(f"fold {fold + 1}: CNN accuracy {cnn['accuracy']:.4f} sensitivity {cnn['sensitivity']:.4f} "
              f"matched-pair AUC {cnn['matched']['roc_auc']:.4f} (mirror-averaged "
              f"{entries['improved_cnn_flip_average']['matched']['roc_auc']:.4f}"
              + (f", seed ensemble {entries['improved_cnn_seed_ensemble']['matched']['roc_auc']:.4f}"
                 if args.members > 1 else "")
              + f") ({sum(run.seconds for run in fits):.0f} s); "
              f"forest accuracy {trees['accuracy']:.4f}", flush=True)
        write_json(args.out, results)
    results["matched_pairs"] = out_of_fold_matched_summary(
        labels, head_area, results["out_of_fold"], {variant: results["models"][key]["folds"]
                                                    for variant, key in variants.items()})
    write_json(args.out, results)
    print(json.dumps({key: value["summary"] for key, value in results["models"].items()}, indent=1))
    print(json.dumps(results.get("matched_pairs"), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
