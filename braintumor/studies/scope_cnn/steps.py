"""The second scope study's steps and command line (`python -m braintumor study scope-cnn`), the
rule `scope_sequence_cnn` applied as written:

    train     each variant's leave-one-LGG-site-out row (CS, DU, FG held out in turn)
    pick      the cheap cues re-set per source; each qualifying variant trained on every train row,
              thresholded on the validation rows and read on B; the pick (or the fallback) written
              into predict's default's folder (scope.json, scope.onnx)
    confirm   once, after the pick: C and the test rows (a counted look)
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

from ... import config
from ...decisions import decision
from ...files import atomic_write
from .. import base
from ..held_out import score_once
from ..scope.rule import b_figures, scope_pick, validation_threshold
from ..scope.sets import DETECTOR_FILE, cue_warned, default_probability, model_folder
from ..site import HELD_OUT_SITES
from . import inputs as study_inputs
from . import network

DECISION = decision("scope_sequence_cnn")
PARAMETERS = DECISION.parameters
VARIANTS = tuple(PARAMETERS["variants"])
RECORD = config.MODEL_DIR / "scope_cnn_study.json"
NETWORK_FILE = "scope.onnx"
NO_DETECTOR = "no detector (the re-set cheap cues alone)"
FIELDS = {"what": "the second study of the check of scans outside the models' scope (decision scope_sequence_cnn); "
                  "braintumor/studies/scope_cnn/",
          "rule": DECISION.rule, "variants": list(VARIANTS), "held_out_sites": list(HELD_OUT_SITES)}


def loso_row(data: dict, variant: str, site: str) -> dict:
    """One row: trained on A's train rows and the other sites' FLAIR and T1 train rows; its
    balanced accuracy, FLAIR against T1, on `site`'s train and validation rows at 0.5."""
    from sklearn.metrics import balanced_accuracy_score

    x, y = study_inputs.rows(data, variant, lambda part: (part["split"] == "train") & (part["site"] != site))
    model, trained = network.train(x, y)
    held = {name: part for name, part in data.items() if name != "brain-tumor"}
    xh, yh = study_inputs.rows(held, variant, lambda part: (part["split"] != "test") & (part["site"] == site))
    predicted = (network.probability(model, xh) >= 0.5).astype(int)
    return {"variant": variant, "held_out_site": site, "n": int(len(yh)),
            "balanced_accuracy": float(balanced_accuracy_score(yh, predicted)), **trained}


def loso_summary(rows: list[dict], variant: str) -> dict:
    """{"sites": {site: balanced accuracy}, "mean", "qualifies"}; ValueError while a site is missing."""
    sites = {row["held_out_site"]: row["balanced_accuracy"] for row in rows if row["variant"] == variant}
    missing = [site for site in HELD_OUT_SITES if site not in sites]
    if missing:
        raise ValueError(f"{variant}: no row for site {', '.join(missing)}")
    return {"sites": sites, "mean": float(np.mean(list(sites.values()))),
            "qualifies": bool(min(sites.values()) >= PARAMETERS["min_site_balanced_accuracy"])}


def reset_cues(data: dict) -> dict:
    """The cheap cues re-set per source: the first q of the rule's list at which they alone warn
    at most `max_cue_val_warned` of A's and of LGG's validation rows (the last, 0, regardless)."""
    from ...data.input_check import fit_input_check_by_source

    train = {name: data[name]["images"][data[name]["split"] == "train"] for name in ("brain-tumor", "lgg")}
    for q in PARAMETERS["cue_quantiles"]:
        cues = fit_input_check_by_source(train, q)
        warned = {name: float(cue_warned(data[name]["images"][data[name]["split"] == "val"], cues).mean())
                  for name in ("brain-tumor", "lgg")}
        if max(warned.values()) <= PARAMETERS["max_cue_val_warned"] or q == PARAMETERS["cue_quantiles"][-1]:
            return {**cues, "decision": DECISION.name, "validation_warned": warned}
    raise AssertionError("unreachable: the last quantile is taken regardless")


def fitted_variant(data: dict, variant: str, summary: dict, cues: dict, b: dict | None):
    """(entry, model): `variant` trained on every train row, thresholded on the validation rows
    (with the re-set cues) and, where it qualifies, read on B."""
    x, y = study_inputs.rows(data, variant, lambda part: part["split"] == "train")
    model, trained = network.train(x, y)
    val = {name: (network.probability(model, data[name]["inputs"][variant][data[name]["split"] == "val"]),
                  cue_warned(data[name]["images"][data[name]["split"] == "val"], cues))
           for name in ("brain-tumor", "lgg")}
    # the detector's own budget: its threshold is set on its scores alone (no cue warning counted)
    threshold = validation_threshold({name: (s, np.zeros(len(s), bool)) for name, (s, _) in val.items()},
                                     PARAMETERS["max_detector_val_warned"])
    t1_val = data["lgg-t1"]["split"] == "val"
    t1_scores = network.probability(model, data["lgg-t1"]["inputs"][variant][t1_val])
    entry = {"variant": variant, "loso": summary, "threshold": threshold, **trained,
             "rows_per_second": round(trained["rows_trained"] / trained["train_seconds"], 1),
             "qualifies": bool(summary["qualifies"] and threshold is not None),
             "validation_warned": {name: {"detector": float((s >= threshold).mean()), "cues": float(cw.mean()),
                                          "either": float((cw | (s >= threshold)).mean())} if threshold is not None else None
                                   for name, (s, cw) in val.items()},
             "t1_validation_warned": float((t1_scores >= threshold).mean()) if threshold is not None else None}
    if entry["qualifies"]:
        warned = b["cue_warned"] | (scores_on(b["images"], variant, model, b["extracted"]) >= threshold)
        entry["b"] = b_figures(b["labels"], b["probability"], warned)
    return entry, model


def scores_on(images, variant: str, model, extracted=None) -> np.ndarray:
    """The Keras detector's out-of-scope probabilities for raw scans."""
    return network.probability(model, study_inputs.variant_inputs(images, extracted)[variant])


def detector_of(variant: str, threshold: float) -> dict:
    """The scope.json `data.scope` applies (kind "cnn"; the network is scope.onnx beside it)."""
    from ...data.scope import SEQUENCE_INPUTS

    side, extraction = SEQUENCE_INPUTS[variant]
    return {"kind": "cnn", "variant": variant, "side": side, "extraction": extraction, "threshold": float(threshold),
            "network": NETWORK_FILE, "decision": DECISION.name, "record": str(RECORD)}


def write_pick(detector: dict | None, model, cues: dict, folder: Path | None = None) -> Path:
    """The pick into predict's default's folder: scope.json with the re-set cues, and scope.onnx;
    for the fallback, scope.json with the cues alone (no network)."""
    folder = Path(folder or model_folder())
    path = folder / DETECTOR_FILE
    written = {**(detector or {"kind": "cues", "decision": DECISION.name, "record": str(RECORD)}), "input_check": cues}
    if detector is not None:
        network.export(model, folder / NETWORK_FILE)
    else:
        (folder / NETWORK_FILE).unlink(missing_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8"))
    return path


def scope_cnn_pick(fitted: list[dict]) -> dict:
    """The rule's pick over the fitted variants (in the rule's order), fallback included."""
    pick = scope_pick(fitted, PARAMETERS["b_unwarned_floor"], PARAMETERS["tie"])
    return {**pick, "outcome": NO_DETECTOR} if pick["reason"] == "no variant qualified: fallback" else pick


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m braintumor study scope-cnn", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("train", "pick", "confirm"))
    parser.add_argument("--schedule", default="full", choices=("full", "check"),
                        help="check: every 8th scan, to try the code path (use --record and --model-dir elsewhere)")
    parser.add_argument("--record", type=Path, default=RECORD)
    parser.add_argument("--model-dir", type=Path, default=None, help="where pick writes scope.json (default: the default's folder)")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.step == "confirm":
        return _confirm(args)
    data = study_inputs.load(args.schedule)
    record = base.read_record(args.record)
    if args.step == "train":
        todo = [(f"{variant}__without_{site}", {"variant": variant, "site": site})
                for variant in VARIANTS for site in HELD_OUT_SITES]
        base.run_rows(args.record, todo, lambda spec: loso_row(data, spec["variant"], spec["site"]),
                      schedule=args.schedule, **FIELDS)
        record = base.read_record(args.record)
        base.write_record(args.record, record, status=f"{len(record['rows'])} leave-one-site-out rows run", **FIELDS)
        return 0
    try:
        summaries = {variant: loso_summary(record["rows"], variant) for variant in VARIANTS}
    except (KeyError, ValueError) as error:
        raise SystemExit(f"{args.record}: cannot apply scope_sequence_cnn yet ({error}); "
                         "run `python -m braintumor study scope-cnn train` first")
    cues = reset_cues(data)
    b, look = None, []
    if any(summary["qualifies"] for summary in summaries.values()):  # B is read only where a variant can still be picked
        from ...data.brain_extraction import extract_brain
        from ...data.sources import extra_source

        source = extra_source()
        b = {"images": source.images, "labels": source.labels, "extracted": extract_brain(source.images, "classical-v1"),
             "cue_warned": cue_warned(source.images, cues), "probability": default_probability(source.images)}
        look = [{"what": "set B, every scan, for the pick (scope_sequence_cnn)", "sets": ["extra_all"],
                 "when": date.today().isoformat()}]
    fitted = [fitted_variant(data, variant, summaries[variant], cues, b) if summaries[variant]["qualifies"]
              else ({"variant": variant, "loso": summaries[variant], "qualifies": False, "threshold": None}, None)
              for variant in VARIANTS]
    pick = scope_cnn_pick([entry for entry, _ in fitted])
    models = {entry["variant"]: model for entry, model in fitted}
    detector = detector_of(pick["outcome"], pick["threshold"]) if pick["outcome"] in models else None
    written = write_pick(detector, models.get(pick["outcome"]), cues, args.model_dir)
    base.write_record(args.record, record, fitted=[entry for entry, _ in fitted], pick=pick, input_check=cues,
                      b_cues_alone=None if b is None else b_figures(b["labels"], b["probability"], b["cue_warned"]),
                      detector_file=str(written.relative_to(config.REPO_ROOT) if written.is_relative_to(config.REPO_ROOT)
                                        else written),
                      status="scope_sequence_cnn applied as written", looks=[*record.get("looks", []), *look],
                      schedule=args.schedule, **FIELDS)
    print(f"scope-cnn pick: {pick['outcome']} ({pick['reason']})")
    return 0


def _confirm(args) -> int:
    """Once, after the pick: the outside scans C, A's and LGG's test rows and the T1 test rows,
    scored as `predict` scores them (the re-set cues, the ONNX detector, the default's ONNX)."""
    from ...data.external import find_external_dir, load_external
    from ...data.lgg_t1 import find_lgg_t1_dir, load_lgg_t1
    from ...data.scope import scope_scores
    from ...data.sources import brain_tumor_source, lgg_source
    from ...evaluation.analysis import figures_by_warning
    from ...models.onnx_runtime import OnnxModel

    record = base.read_record(args.record)
    if "pick" not in record:
        raise SystemExit(f"{args.record}: no pick yet; run `python -m braintumor study scope-cnn pick` first")
    folder = Path(args.model_dir or model_folder())
    written = json.loads((folder / DETECTOR_FILE).read_text(encoding="utf-8"))
    cues = written["input_check"]
    runner = OnnxModel(folder / NETWORK_FILE) if written.get("kind") == "cnn" else None
    threshold = json.loads((folder / "card.json").read_text(encoding="utf-8"))["threshold"]

    def score() -> dict:
        outside_dir = find_external_dir()
        if outside_dir is None:
            raise SystemExit("set BRAIN_TUMOR_EXTERNAL: confirm reads every set at once")
        outside, t1 = load_external(outside_dir), load_lgg_t1(find_lgg_t1_dir())
        a, lgg = brain_tumor_source().part("test"), lgg_source().part("test")
        sets = {"brain-tumor_test": a, "lgg_test": lgg, "outside": {"images": outside.images, "labels": outside.labels}}
        for sequence in ("t1pre", "t1post"):
            rows = (t1.split == "test") & (t1.sequence == sequence)
            sets[f"lgg-{sequence}_test"] = {"images": t1.images[rows], "labels": t1.labels[rows]}
        scores = {}
        for name, part in sets.items():
            images = np.asarray(part["images"])
            warned = cue_warned(images, cues)
            if runner is not None:
                warned = warned | (scope_scores(images, written, runner) >= written["threshold"])
            scores[name] = {"n": int(len(warned)), "warned_share": float(warned.mean()),
                            **figures_by_warning(part["labels"], default_probability(images), threshold, warned)}
        return {"scores": scores}

    scored = score_once(args.record, score, "the outside scans C and the test rows, once, after the scope-cnn pick",
                        ["brain-tumor_test", "lgg_test", "outside", "lgg-t1pre_test", "lgg-t1post_test"])
    for name, figures in scored["scores"].items():
        print(f"{name}: {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
