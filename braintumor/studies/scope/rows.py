"""The scope study's steps and command line (`python -m braintumor study scope`).

    python -m braintumor study scope train     # leave-one-site-out rows: every variant, C and site (minutes)
    python -m braintumor study scope pick      # fit, threshold on validation rows, read B, pick, write scope.json
    python -m braintumor study scope confirm   # once, after the pick: C and the test rows (a counted look)

Every scan is described once by `data.scope.scope_features` ("intensity+thumbnail" holds both
feature sets; a variant takes its columns). In scope (label 0): A's rows and LGG's FLAIR slices;
out of scope (label 1): the same LGG slices in pre- and post-contrast T1 (`data.lgg_t1`). The
cheap cues are the default's card's rule (`data.input_check`); predict's default is scored by
its ONNX export, after its preprocessing, as `predict` scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ... import config
from ...files import atomic_write
from ...models import configs
from .. import base
from ..held_out import score_once
from ..site import HELD_OUT_SITES
from . import rule

RECORD = config.MODEL_DIR / "scope_study.json"
MODEL = "new-scans"  # predict's default: the detector ships in its folder
DETECTOR_FILE = "scope.json"
ALL = "intensity+thumbnail"  # the variant whose features hold every other's


def model_folder() -> Path:
    """predict's default's folder, absolute."""
    return config.REPO_ROOT / configs.model_dir(MODEL)


def columns(variant: str) -> slice:
    """The columns of `ALL`'s features that `variant` reads."""
    from ...data.scope import INTENSITY_FEATURES

    width = len(INTENSITY_FEATURES)
    return {"intensity": slice(0, width), "thumbnail": slice(width, None), ALL: slice(None)}[variant]


def load_data(schedule: str = "full") -> dict:
    """Every set the study reads, described once: {name: {"features", "labels" (in/out of scope),
    "split", "site", "images"?}} for A, LGG FLAIR and LGG T1, and the in-scope cue warnings.
    "check": every 8th scan, to try the code path."""
    from ...data.lgg_t1 import find_lgg_t1_dir, load_lgg_t1
    from ...data.scope import scope_features
    from ...data.sources import brain_tumor_source, lgg_source

    step = 8 if schedule == "check" else 1
    a, lgg = brain_tumor_source(), lgg_source()
    folder = find_lgg_t1_dir()
    if folder is None:
        raise SystemExit("set BRAIN_TUMOR_LGG_T1 (../shared/data/extra/lgg-t1): the study learns from the T1 slices")
    t1 = load_lgg_t1(folder)
    sets = {"brain-tumor": (a.images, a.split, np.array(["A"] * len(a.split)), 0),
            "lgg": (lgg.images, lgg.split, np.array([str(n).split("_")[1] for n in lgg.names]), 0),
            "lgg-t1": (t1.images, t1.split, t1.site, 1)}
    data = {}
    for name, (images, split, site, label) in sets.items():
        keep = np.arange(0, len(split), step)
        data[name] = {"images": images[keep], "features": scope_features(images[keep], ALL),
                      "labels": np.full(len(keep), label), "split": np.asarray(split)[keep], "site": np.asarray(site)[keep]}
    data["lgg-t1"]["sequence"] = t1.sequence[np.arange(0, len(t1.split), step)]
    return data


def _rows(data: dict, where) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every set's rows that `where(part)` selects (a boolean mask)."""
    picked = [(part["features"][where(part)], part["labels"][where(part)]) for part in data.values()]
    return np.concatenate([f for f, _ in picked]), np.concatenate([y for _, y in picked])


def fit(features, labels, c: float):
    """The detector's logistic regression: standardised features, classes balanced."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000)).fit(features, labels)


def loso_row(data: dict, variant: str, c: float, site: str) -> dict:
    """One leave-one-site-out row: fitted on A's train rows and the other sites' FLAIR and T1
    train rows; its balanced accuracy, FLAIR against T1, on `site`'s train and validation rows."""
    from sklearn.metrics import balanced_accuracy_score

    cut = columns(variant)
    x, y = _rows(data, lambda part: (part["split"] == "train") & (part["site"] != site))
    model = fit(x[:, cut], y, c)
    held = {name: part for name, part in data.items() if name != "brain-tumor"}
    xh, yh = _rows(held, lambda part: (part["split"] != "test") & (part["site"] == site))
    predicted = model.predict(xh[:, cut])
    return {"variant": variant, "c": c, "held_out_site": site, "n": int(len(yh)),
            "balanced_accuracy": float(balanced_accuracy_score(yh, predicted))}


def detector_of(model, variant: str, threshold: float) -> dict:
    """The fitted pipeline as the plain dict `data.scope` applies (JSON, no pickle)."""
    from ...data.scope import FEATURE_SETS, INNER_DEPTH, THUMBNAIL_SIDE

    scaler, regression = model.steps[0][1], model.steps[1][1]
    return {"variant": variant, "features": list(FEATURE_SETS[variant]), "mean": scaler.mean_.tolist(),
            "scale": scaler.scale_.tolist(), "coef": regression.coef_[0].tolist(),
            "intercept": float(regression.intercept_[0]), "threshold": float(threshold),
            "inner_depth": INNER_DEPTH, "thumbnail_side": THUMBNAIL_SIDE}


def cue_rule() -> dict:
    """The five cheap cues' rule of predict's default (its card)."""
    return json.loads((model_folder() / configs.CARD_FILE).read_text(encoding="utf-8"))["input_check"]


def cue_warned(images, cues: dict) -> np.ndarray:
    from ...data.input_check import input_warnings

    return np.array([warning is not None for warning in input_warnings(images, cues)])


def default_probability(images) -> np.ndarray:
    """predict's default on raw scans, as `predict` scores them: its preprocessing, its ONNX export."""
    from ...evaluation.shipped import prepared, preprocessing_of
    from ...models.onnx_runtime import load_onnx_model

    runtime = load_onnx_model(model_folder() / configs.ONNX_FILE)
    scans = prepared(np.asarray(images), preprocessing_of(MODEL)).astype(np.float32)
    return np.concatenate([runtime.predict_on_batch(scans[k:k + 128])[:, 1] for k in range(0, len(scans), 128)])


def fitted_variant(data: dict, variant: str, chosen: dict, cues: dict, b: dict | None) -> tuple[dict, dict | None]:
    """(`variant` fitted at its chosen C on every train row, thresholded on the validation rows,
    and read on B; its detector dict or None when it does not qualify)."""
    from ...data.scope import scores_of_features

    cut = columns(variant)
    x, y = _rows(data, lambda part: part["split"] == "train")
    model = fit(x[:, cut], y, chosen["c"])
    val = {name: (model.predict_proba(data[name]["features"][data[name]["split"] == "val"][:, cut])[:, 1],
                  cue_warned(data[name]["images"][data[name]["split"] == "val"], cues))
           for name in ("brain-tumor", "lgg")}
    threshold = rule.validation_threshold(val)
    entry = {"variant": variant, "c": chosen["c"], "loso": chosen, "threshold": threshold,
             "qualifies": bool(chosen["qualifies"] and threshold is not None),
             "validation_warned": {name: float((cw | (s >= threshold)).mean()) if threshold is not None else None
                                   for name, (s, cw) in val.items()}}
    if not entry["qualifies"]:
        return entry, None
    detector = detector_of(model, variant, threshold)
    warned = b["cue_warned"] | (scores_of_features(b["features"][:, cut], detector) >= threshold)
    entry["b"] = rule.b_figures(b["labels"], b["probability"], warned)
    return entry, detector


def write_detector(detector: dict | None, folder: Path | None = None) -> Path:
    """The picked detector into the default's folder (`scope.json`), or the file removed for the
    fallback (no detector)."""
    path = Path(folder or model_folder()) / DETECTOR_FILE
    if detector is None:
        path.unlink(missing_ok=True)
        return path
    text = json.dumps({**detector, "decision": "scope_check", "record": str(RECORD)}, indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m braintumor study scope", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "pick", "confirm"))
    parser.add_argument("--schedule", default="full", choices=("full", "check"),
                        help="check: every 8th scan, into a scratch record, to try the code path")
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--model-dir", type=Path, default=None, help="where pick writes scope.json (default: the default's folder)")
    return parser


FIELDS = {"what": "the study that chooses the check of scans outside the models' scope (decision scope_check); "
                  "braintumor/studies/scope/",
          "rule": rule.RULE, "variants": list(rule.VARIANTS), "c_grid": list(rule.C_GRID),
          "held_out_sites": list(HELD_OUT_SITES)}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    record = base.read_record(args.record)
    if args.step == "confirm":
        return _confirm(args)
    data = load_data(args.schedule)
    if args.step == "train":
        todo = [(f"{variant}__C{c}__without_{site}", {"variant": variant, "c": c, "site": site})
                for variant in rule.VARIANTS for c in rule.C_GRID for site in HELD_OUT_SITES]
        record = base.run_rows(args.record, todo, lambda spec: {**loso_row(data, spec["variant"], spec["c"], spec["site"]),
                                                               "rows_trained": 0},
                               schedule=args.schedule, **FIELDS)
        base.write_record(args.record, record, status=f"{len(record['rows'])} leave-one-site-out rows run", **FIELDS)
        return 0
    try:
        chosen = {variant: rule.chosen_c(record["rows"], variant) for variant in rule.VARIANTS}
    except ValueError as error:
        raise SystemExit(f"{args.record}: cannot apply scope_check yet ({error}); run `python -m braintumor study scope train` first")
    from ...data.scope import scope_features
    from ...data.sources import extra_source

    cues = cue_rule()
    b_source = extra_source()
    b = {"labels": b_source.labels, "features": scope_features(b_source.images, ALL),
         "cue_warned": cue_warned(b_source.images, cues), "probability": default_probability(b_source.images)}
    fitted = [fitted_variant(data, variant, chosen[variant], cues, b) for variant in rule.VARIANTS]
    pick = rule.scope_pick([entry for entry, _ in fitted])
    detectors = {entry["variant"]: detector for entry, detector in fitted}
    written = write_detector(detectors.get(pick["outcome"]), args.model_dir)
    from datetime import date

    look = {"what": "set B, every scan, for the pick (scope_check)", "sets": ["extra_all"], "when": date.today().isoformat()}
    base.write_record(args.record, record, fitted=[entry for entry, _ in fitted], pick=pick,
                      b_cues_alone=rule.b_figures(b["labels"], b["probability"], b["cue_warned"]),
                      detector_file=str(written), status="scope_check applied as written",
                      looks=[*record.get("looks", []), look], schedule=args.schedule, **FIELDS)
    print(f"scope pick: {pick['outcome']} ({pick['reason']})")
    return 0


def confirm_figures(probability, labels, warned) -> dict:
    """One confirming set: the warned share, and the default's ROC AUC on the unwarned and the warned scans."""
    warned = np.asarray(warned, dtype=bool)
    unwarned = rule.b_figures(labels, probability, warned)
    on_warned = rule.b_figures(labels, probability, ~warned)
    return {"n": int(len(warned)), "warned_share": float(warned.mean()), "unwarned_roc_auc": unwarned["roc_auc"],
            "warned_roc_auc": on_warned["roc_auc"], "unwarned": unwarned["unwarned"]}


def _confirm(args) -> int:
    """Once, after the pick: the outside scans C, A's and LGG's test rows and the T1 test rows."""
    record = base.read_record(args.record)
    if "pick" not in record:
        raise SystemExit(f"{args.record}: no pick yet; run `python -m braintumor study scope pick` first")
    from ...data.external import find_external_dir, load_external
    from ...data.lgg_t1 import find_lgg_t1_dir, load_lgg_t1
    from ...data.scope import check_detector, scope_scores
    from ...data.sources import brain_tumor_source, lgg_source

    path = Path(args.model_dir or model_folder()) / DETECTOR_FILE
    detector = check_detector(json.loads(path.read_text())) if path.is_file() else None
    cues = cue_rule()

    def score() -> dict:
        t1 = load_lgg_t1(find_lgg_t1_dir())
        outside_dir = find_external_dir()
        if outside_dir is None:
            raise SystemExit("set BRAIN_TUMOR_EXTERNAL: confirm reads every set at once")
        outside = load_external(outside_dir)
        a, lgg = brain_tumor_source().part("test"), lgg_source().part("test")
        t1_test = {sequence: {"images": t1.images[(t1.split == "test") & (t1.sequence == sequence)],
                              "labels": t1.labels[(t1.split == "test") & (t1.sequence == sequence)]}
                   for sequence in ("t1pre", "t1post")}
        sets = {"brain-tumor_test": a, "lgg_test": lgg, "outside": {"images": outside.images, "labels": outside.labels},
                "lgg-t1pre_test": t1_test["t1pre"], "lgg-t1post_test": t1_test["t1post"]}
        scores = {}
        for name, part in sets.items():
            images = np.asarray(part["images"])
            warned = cue_warned(images, cues)
            if detector is not None:
                warned = warned | (scope_scores(images, detector) >= detector["threshold"])
            scores[name] = confirm_figures(default_probability(images), part["labels"], warned)
        return {"scores": scores}

    scored = score_once(args.record, score, "the outside scans C and the test rows, once, after the scope pick",
                        ["brain-tumor_test", "lgg_test", "outside", "lgg-t1pre_test", "lgg-t1post_test"])
    for name, figures in scored["scores"].items():
        print(f"{name}: {figures['warned_share']:.1%} warned; unwarned ROC AUC {figures['unwarned_roc_auc']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
