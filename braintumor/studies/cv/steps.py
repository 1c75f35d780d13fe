"""Grouped 5-fold cross-validation over the train and validation rows (`make cv`), or over all
scans for the README's headline estimate (`make cv-all`):

    python -m braintumor study cv run                  # the single-source recipe -> model/cv_results.json
    python -m braintumor study cv run --pool all       # all 3762 scans, test rows included -> model/cv_all_scans.json

Groups are the byte-identical duplicate groups, so copies never straddle folds. The recipe is
the single-source model's configuration (model/single-source/config.toml: architecture, recipe,
weighting, members); `--candidate NAME` takes another row of model/improved_search.json,
`--weighting` and `--members` change one setting, each with `--out`, for the records that
`models.recipes`' rules read (mirror averaging, head-area weights, seed ensemble). The record is
written after every fold and a rerun of the same setup resumes; out-of-fold probabilities are
kept so that the pool's head-size-matched pairs give the recipe's matched-pair ROC AUC."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ... import config
from ...models import configs
from . import folds

FOLDS = 5
SHIPPED = "single-source"
OUT = {"trainval": config.CV_PATH, "all": config.MODEL_DIR / "cv_all_scans.json"}


def setup_of(args) -> dict:
    """What the record was made with: a rerun resumes only a record of the same setup."""
    from ...models.recipes import WEIGHTING_SETUP_NAMES, member_seeds
    from ...models.selection import architecture_from_json

    if args.candidate:
        rows = json.loads((config.MODEL_DIR / "improved_search.json").read_text())["rows"]
        named = [row for row in rows if row["name"] == args.candidate]
        if not named:
            raise SystemExit(f"no candidate named {args.candidate!r} in model/improved_search.json; "
                             f"known: {', '.join(row['name'] for row in rows)}")
        name, architecture, recipe = args.candidate, architecture_from_json(named[0]["architecture"]), named[0]["recipe"]
    else:
        name = configs.load_config(SHIPPED)["candidate"]
        architecture, recipe = configs.architecture(SHIPPED), configs.training_recipe(SHIPPED)
    return {"candidate": name, "architecture": architecture, "recipe": recipe, "seed": config.SEED,
            **({"pool": "all"} if args.pool == "all" else {}),
            **({"weighting": WEIGHTING_SETUP_NAMES[args.weighting]} if args.weighting != "none" else {}),
            **({"members": args.members, "member_seeds": member_seeds(args.members)} if args.members > 1 else {})}


def _record(path: Path, setup: dict, n: int, variants) -> dict:
    """The record at `path` when it has the same setup and its out-of-fold probabilities, else a new one."""
    from ...models.networks import library_versions

    previous = json.loads(path.read_text()) if path.is_file() else {}
    same = previous.get("setup") == json.loads(json.dumps(setup)) and "out_of_fold" in previous
    resume = previous if same else {}
    keys = [folds.CV_VARIANT_KEYS[v] for v in variants] + ["forest_image_features"]
    return {"folds": FOLDS, "n_images": n, "file": str(path), "setup": setup, "versions": library_versions(),
            "models": resume.get("models", {key: {"folds": []} for key in keys}),
            "out_of_fold": resume.get("out_of_fold", {variant: [None] * n for variant in variants})}


def run(args) -> dict:
    from sklearn.model_selection import StratifiedGroupKFold

    from ...data.dataset import load_npz
    from ...data.features import image_features
    from ...data.splits import group_ids, split_masks
    from ...evaluation.metrics import fold_mean_std
    from ...evaluation.records import write_json
    from ...evaluation.shortcut import out_of_fold_matched_summary, slice_cues

    setup, out = setup_of(args), args.out or OUT[args.pool]
    variants = ("plain", "flip_average") + (("seed_ensemble",) if args.members > 1 else ())
    dataset = load_npz()
    masks = split_masks(dataset.names)
    pool = np.arange(len(dataset.names)) if args.pool == "all" else np.flatnonzero(masks["train"] | masks["val"])
    y, groups = dataset.labels[pool], group_ids(dataset.names, dataset.duplicate_groups)[pool]
    record = _record(out, setup, int(len(pool)), variants)
    # The pooled scans, gathered once (fancy indexing copies): every fold indexes into them.
    x = dataset.images[pool]
    features, head_area = image_features(x[..., 0]), slice_cues(x)["head_area"].to_numpy()
    splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=config.SEED)
    for fold, (train_part, held_out) in enumerate(splitter.split(np.zeros(len(pool)), y, groups)):
        if fold < len(record["models"]["improved_cnn"]["folds"]):
            print(f"fold {fold + 1}: already done, kept", flush=True)
            continue
        fit_index, stop_index = folds.inner_split(y, groups, train_part, fold)
        scores, fits = folds.cnn_scores(x, y, head_area, fit_index, stop_index, held_out, setup["architecture"],
                                        setup["recipe"], args.weighting, args.members)
        entries = folds.cnn_entries(scores, fits, y, head_area, stop_index, held_out, fold)
        entries["forest_image_features"] = folds.forest_entry(features, y, train_part, held_out, fold)
        for variant, (_, held_probability) in scores.items():
            for position, probability in zip(held_out.tolist(), held_probability.tolist()):
                record["out_of_fold"][variant][position] = round(probability, 6)
        for key, entry in entries.items():
            record["models"][key]["folds"].append(entry)
            record["models"][key]["summary"] = fold_mean_std(record["models"][key]["folds"]) if fold else None
        print(f"fold {fold + 1}: " + ", ".join(f"{key} accuracy {entry['accuracy']:.4f}" + (
            f" matched-pair ROC AUC {entry['matched']['roc_auc']:.4f}" if "matched" in entry else "")
            for key, entry in entries.items()) + f" ({sum(run.seconds for run in fits):.0f} s)", flush=True)
        write_json(out, record)
    record["matched_pairs"] = out_of_fold_matched_summary(
        y, head_area, record["out_of_fold"], {v: record["models"][folds.CV_VARIANT_KEYS[v]]["folds"] for v in variants})
    write_json(out, record)
    return record


def main(argv=None) -> int:
    from ...models.recipes import SHIPPED_MEMBERS, SHIPPED_WEIGHTING

    parser = argparse.ArgumentParser(prog="python -m braintumor study cv", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("run",))
    parser.add_argument("--candidate", help="a row of model/improved_search.json (default: the single-source configuration)")
    parser.add_argument("--out", type=Path, help=f"the record (default: {OUT['trainval']}, with --pool all {OUT['all']})")
    parser.add_argument("--pool", choices=tuple(OUT), default="trainval",
                        help="fold the train and validation rows (default), or all scans for the headline estimate")
    parser.add_argument("--weighting", choices=("none", "head_area"), default=SHIPPED_WEIGHTING,
                        help=f"training weights; default: the configuration's ({SHIPPED_WEIGHTING})")
    parser.add_argument("--members", type=int, default=SHIPPED_MEMBERS,
                        help=f"networks per fold; above 1 their mean is scored too; default: the configuration's ({SHIPPED_MEMBERS})")
    args = parser.parse_args(argv)
    if args.members < 1:
        parser.error(f"--members must be at least 1, not {args.members}")
    record = run(args)
    print(json.dumps({key: value["summary"] for key, value in record["models"].items()}, indent=1))
    print(json.dumps(record.get("matched_pairs"), indent=1))
    return 0
