"""The new-scans study's last two steps: the picked variant trained on A and all four LGG
sites (`final`), then scored once on held-out data (`score`).

    python -m braintumor study new-scans final   # after `pick`, when the rule chose a variant
    python -m braintumor study new-scans score   # once, after `final`: a look at held-out data

`final` trains what `model/new-scans/config.toml` describes (its `candidate` must be the
pick's variant). `score` goes through the score-once gate (`held_out.score_once`): A's and
LGG's test rows, every row of set B (evaluation only, collection-confounded) and the outside
scans C, each whole and split by whether `predict`'s input check warns on the scan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import base, site as site_study
from . import rule

CONFIG = rule.MODEL_NAME  # model/new-scans/config.toml


def final_config(pick: dict, root=None) -> dict:
    """The configuration `final` trains, checked against the pick; SystemExit saying what to write otherwise."""
    from ...models import configs

    if pick.get("default_model") == rule.SINGLE_SOURCE:
        raise SystemExit(f"new_scans_default kept the single-source model ({pick['outcome']}): nothing to train")
    try:
        written = configs.load_config(CONFIG, root)
    except KeyError:
        raise SystemExit(f"write model/{CONFIG}/config.toml for the pick ({pick['outcome']}): candidate, architecture, "
                         "recipe, training, rules, role and provenance, as model/studies/a-lgg/config.toml") from None
    if written.get("candidate") != pick["outcome"]:
        raise SystemExit(f"model/{CONFIG}/config.toml describes {written.get('candidate')!r}, "
                         f"but new_scans_default picked {pick['outcome']!r}")
    return written


def final(record: dict, a, lgg, schedule: str = "full", out: Path | None = None) -> dict:
    """`trained_final`'s entry alone."""
    return trained_final(record, a, lgg, schedule, out)[0]


def trained_final(record: dict, a, lgg, schedule: str = "full", out: Path | None = None) -> tuple[dict, object, object]:
    """Train the picked variant, as model/new-scans/config.toml writes it out, under the study's
    first seed on A and every LGG site: (entry: its figures on the sources' validation rows and its
    input-check rule, the model, its first network's fit, whose curves model.ipynb shows)."""
    from ...data.input_check import fit_input_check
    from ...data.sources import pooled
    from ...models import configs
    from ...models.training import train

    if "pick" not in record:
        raise SystemExit("run `python -m braintumor study new-scans pick` first: the rule comes before the model")
    final_config(record["pick"])
    variant, seed, sources = record["pick"]["outcome"], rule.SEEDS[0], [a, lgg]
    fitted = {}
    fit = lambda: fitted.setdefault("trained", train(CONFIG, schedule, sources=sources, seed=seed))  # noqa: E731
    model, trained = base.train_final(fit, Path(out or configs.model_file(CONFIG)))  # the folder's config.toml alone
    threshold, balanced = base.pooled_threshold(model, sources)
    entry = {"variant": variant, "seed": seed, "model_file": trained.pop("model_file"), "schedule": schedule,
             "threshold": threshold, "validation_balanced_accuracy": balanced,
             "validation": base.validation_figures(model, sources, threshold),
             "input_check": fit_input_check(pooled(sources, "train")["images"]), **trained}
    return entry, model, fitted["trained"].fit


def record_final(path: Path, record: dict, entry: dict, **fields) -> dict:
    """Write `entry` as the record's "final" (as `final` and model.ipynb do). Scores of other
    weights are not carried over silently: they move to "scores_of_other_weights", so that the
    documents never show one training's figures under another's weights."""
    scored = record.get("scores") or {}
    if scored and scored.get("weights_sha256") != entry["weights_sha256"]:
        fields.update(scores=None, scores_of_other_weights=scored)
    base.write_record(path, record, final=entry, **fields)
    return base.read_record(path)


def score(record: dict, sets: dict, lgg) -> dict:
    """The final model's figures on each of `sets`, whole and split by the input check, and per LGG
    site; each scan after its folder's brain extraction, as `predict` scores it."""
    from ...data.input_check import input_warnings
    from ...evaluation.analysis import figures_by_warning
    from ...evaluation.shipped import prepared, preprocessing_of
    from ...models import configs
    from ...models.networks import load_model

    final_entry = record["final"]
    model, threshold, method = load_model(configs.model_file(CONFIG)), final_entry["threshold"], preprocessing_of(CONFIG)
    scores = {"weights_sha256": base.weights_digest(model), "brain_extraction": method}
    for name, (images, labels, matched) in sets.items():
        probability = base.probability(model, prepared(images, method))
        warned = np.array([w is not None for w in input_warnings(images, final_entry["input_check"])])
        scores[name] = {**base.figures(labels, probability, threshold, matched=matched, images=images),
                        "by_warning": figures_by_warning(labels, probability, threshold, warned, base.figures)}
    test = lgg.part("test")
    sites, probability = site_study.site_of(test["names"]), base.probability(model, prepared(test["images"], method))
    scores["lgg_test_by_site"] = {site: base.figures(test["labels"][sites == site], probability[sites == site], threshold)
                                  for site in sorted(set(sites)) if len(set(test["labels"][sites == site])) == 2}
    return scores


#: What issue 29 asked of the new-scans model, scored once (`targets`): (what, where in the record, floor).
TARGETS = (("ROC AUC, lowest held-out-site row of the pick", "rows", 0.93),
           ("ROC AUC, A test rows", ("brain-tumor_test", "roc_auc"), 0.98),
           ("ROC AUC, C", ("outside", "roc_auc"), 0.85),
           ("sensitivity, C", ("outside", "sensitivity"), 0.75),
           ("specificity, C", ("outside", "specificity"), 0.75))


def targets(record: dict) -> list[dict]:
    """Each of `TARGETS` with its measured value (the lowest row for "rows") and whether it is met;
    value None until the model has been scored."""
    out, scores = [], record.get("scores") or {}
    for what, where, floor in TARGETS:
        if where == "rows":
            picked = [row for row in record.get("rows", []) if row["variant"] == (record.get("pick") or {}).get("outcome")]
            value = min((row["held_out_figures"]["roc_auc"] for row in picked), default=None)
        else:
            value = (scores.get(where[0]) or {}).get(where[1])
        out.append({"target": what, "floor": floor, "value": value, "met": value is not None and value >= floor})
    return out


def model_entry(record: dict | None) -> dict | None:
    """`metrics.json`'s entry for the new-scans model, as `predict` reads it per model file (its
    threshold and input-check rule) with the study's figures of it; None until `final` has run."""
    if not record or "final" not in record:
        return None
    final_entry = record["final"]
    return {"spec": CONFIG, "model_file": final_entry["model_file"], "variant": final_entry["variant"],
            "threshold": final_entry["threshold"], "input_check": final_entry["input_check"],
            "validation": final_entry["validation"], "scores": record.get("scores")}


def default_model_entry(record: dict | None, earlier: dict) -> dict:
    """`metrics.json`'s `default_model`: the name `new_scans_default` chose and the figures it
    compared; `earlier` (the held-out-site rule's entry) stays as history. Until the pick has
    run, `earlier` is the entry."""
    if not record or "pick" not in record:
        return earlier
    pick = record["pick"]
    return {"name": record["default_model"], "rule": rule.RULE, "decided_by": "new_scans_default", "earlier": earlier,
            "compared": {"picked_worst_held_out_auc": pick["worst_held_out_auc"],
                         "single_source_worst_held_out_auc": pick["single_source_worst_held_out_auc"]},
            "reason": f"New-scans pick: {pick['outcome']}."}
