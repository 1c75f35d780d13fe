"""Markdown generated from the measured numbers: README sections, the error-analysis
report and the model card. Nothing here holds a result; it only formats what it is given,
so a report can never disagree with `model/metrics.json`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from . import disclosure
from ..files import atomic_write
from ..models.recipes import CV_VARIANT_KEYS, shipped_cv_variant

#: Row order and display names of the models table.
MODEL_ORDER = (
    ("majority", "Majority class (always 'no tumour')"),
    ("trivial_cues", "Trivial slice-level cues (head size and brightness, random forest)"),
    ("forest_csv_features", "Random forest on the CSV's 13 features ⚠ not from these JPEGs"),
    ("forest_image_features", "Random forest on features recomputed from the JPEGs"),
    ("reference_cnn", "Reference two-conv CNN (the original Kaggle notebook's network)"),
    ("improved_cnn", "Improved CNN (shipped: `model/braintumor.keras`)"),
)

#: Cross-validation trains fresh networks with a recipe: its rows name the recipe, not a file.
CV_LABELS = {
    "forest_image_features": "Random forest on features recomputed from the JPEGs",
    "improved_cnn": "Improved CNN, shipped recipe (five fresh networks, one per fold)",
}


def _cv_labels(cv: dict) -> dict:
    """`CV_LABELS` for this record: where the shipped model is a seed ensemble, the CNN's row is the ensemble's."""
    if shipped_cv_variant(cv) != "seed_ensemble":
        return CV_LABELS
    members = cv["setup"]["members"]
    return {"forest_image_features": CV_LABELS["forest_image_features"],
            CV_VARIANT_KEYS["seed_ensemble"]: f"Improved CNN, shipped recipe (the mean of {members} networks from "
                                              f"different seeds, fresh in each fold)"}


def shipped_cv_model(cv: dict) -> dict:
    """The shipped model's entry (`folds`, `summary`) in a cross-validation record."""
    return cv["models"][CV_VARIANT_KEYS[shipped_cv_variant(cv)]]


def pct(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def with_ci(entry: dict, key: str, digits: int = 1, as_percent: bool = True) -> str:
    value = entry.get(key)
    interval = (entry.get("ci95") or {}).get(key)
    show = (lambda v: pct(v, digits)) if as_percent else (lambda v: "n/a" if v is None else f"{v:.3f}")
    text = show(value)
    if interval and None not in interval:
        text += f" ({show(interval[0])}–{show(interval[1])})"
    return text


def results_table(metrics: dict) -> str:
    """The side-by-side table of every model on the same test rows, plus the original notebook's report."""
    header = (
        "| Model | Parameters | Training (s, CPU) | Threshold | Test accuracy (95% CI) | Sensitivity (95% CI) "
        "| Specificity (95% CI) | ROC AUC (95% CI) | Missed tumours |\n"
        "|---|---:|---:|---:|---|---|---|---|---:|"
    )
    rows = [header]
    models = metrics["models"]
    for key, label in MODEL_ORDER:
        if key not in models:
            continue
        entry = models[key]
        tumours = entry["confusion"]["tp"] + entry["confusion"]["fn"]
        parameters = entry.get("parameters")
        rows.append(
            f"| {label} | {'—' if parameters is None else f'{parameters:,}'} | {entry['train_seconds']:.1f} "
            f"| {entry['threshold']:.3f} | {with_ci(entry, 'accuracy')} | {with_ci(entry, 'sensitivity')} "
            f"| {with_ci(entry, 'specificity')} | {with_ci(entry, 'roc_auc', as_percent=False)} "
            f"| {entry['missed_tumours']} of {tumours} |"
        )
    seed = metrics.get("seed_report")
    if seed:
        rows.append(
            f"| Original Kaggle notebook, as its author reported it (random split, duplicates on both sides) | — | — | 0.500 "
            f"| {pct(seed['test_accuracy'])} | {pct(1 - seed['missed_tumours'] / seed['test_tumours'])} | — | — "
            f"| {seed['missed_tumours']} of {seed['test_tumours']} |"
        )
    return "\n".join(rows)


def cv_table(cv: dict) -> str:
    """Mean ± standard deviation over the grouped folds, one row per model."""
    rows = [
        "| Model | Folds | Accuracy | Sensitivity | Specificity | ROC AUC |",
        "|---|---:|---|---|---|---|",
    ]
    for key, label in _cv_labels(cv).items():
        if key not in cv.get("models", {}):
            continue
        summary = cv["models"][key]["summary"]
        cells = []
        for metric in ("accuracy", "sensitivity", "specificity", "roc_auc"):
            mean, std = summary[metric]["mean"], summary[metric]["std"]
            cells.append(f"{100 * mean:.2f}% ± {100 * std:.2f}" if metric != "roc_auc" else f"{mean:.4f} ± {std:.4f}")
        rows.append(f"| {label} | {len(cv['models'][key]['folds'])} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def cv_recipe_rows(cv_runs: list[dict]) -> list[dict]:
    """One row per cross-validated recipe of the improved CNN (the `model/cv*.json` files):
    where early stopping starts watching, the folds' accuracy and how many epochs each ran.

    A fold that ran fewer epochs than the recipe's maximum was ended by early stopping, which
    restored the epoch `patience` epochs earlier; the earliest such epoch shows whether
    stopping fired while batch-norm noise still ruled validation loss.
    """
    rows = []
    for cv in cv_runs:
        recipe, cnn = cv["setup"]["recipe"], cv["models"]["improved_cnn"]
        folds = cnn["folds"]
        restored = [f.get("best_epoch", f["epochs_run"] - recipe["patience"]) if f["epochs_run"] < recipe["max_epochs"]
                    else None for f in folds]
        rows.append({
            "candidate": cv["setup"]["candidate"] + (" + head-area weights" if cv["setup"].get("weighting") else "")
            + (f" (first of {cv['setup']['members']} seeds)" if cv["setup"].get("members", 1) > 1 else ""),
            "file": cv["file"],
            "watches from epoch": recipe.get("start_from_epoch", 0),
            "accuracy mean": round(cnn["summary"]["accuracy"]["mean"], 4),
            "accuracy std": round(cnn["summary"]["accuracy"]["std"], 4),
            "roc_auc mean": round(cnn["summary"]["roc_auc"]["mean"], 4),
            "accuracy by fold": [round(f["accuracy"], 3) for f in folds],
            "epochs run by fold": [f["epochs_run"] for f in folds],
            "earliest restored epoch": min((epoch for epoch in restored if epoch is not None), default=None),
        })
    return rows


_SECTION = "<!-- BEGIN GENERATED: {name} -->\n{body}\n<!-- END GENERATED: {name} -->"


def replace_sections(text: str, sections: dict[str, str]) -> str:
    """Replace each `<!-- BEGIN GENERATED: name -->...<!-- END ... -->` block in `text`."""
    for name, body in sections.items():
        pattern = re.compile(
            rf"<!-- BEGIN GENERATED: {re.escape(name)} -->.*?<!-- END GENERATED: {re.escape(name)} -->", re.S
        )
        if not pattern.search(text):
            raise ValueError(f"no generated section '{name}' in the document; add its BEGIN/END markers")
        text = pattern.sub(lambda _: _SECTION.format(name=name, body=body.strip()), text)
    return text


def update_document(path: str | os.PathLike, sections: dict[str, str], out: str | os.PathLike | None = None) -> None:
    """Replace the generated sections of the document at `path`; write the result to `out`
    (default: `path` itself), so a check run can leave the committed document untouched."""
    updated = replace_sections(Path(path).read_text(), sections)
    atomic_write(Path(out or path), lambda tmp: tmp.write_text(updated))


def write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(Path(path), lambda tmp: tmp.write_text(text.rstrip() + "\n"))


# --------------------------------------------------------------------------------------
# The documents
# --------------------------------------------------------------------------------------

GENERATED_NOTE = "<!-- Generated by erroranalysis.ipynb from model/metrics.json and the saved model; do not edit by hand. -->"


def metric_rows(entry: dict) -> str:
    """Metric / value (95% CI) table of one model's test block."""
    rows = ["| Metric | Value (95% CI) |", "|---|---|"]
    for key, name in (("accuracy", "Accuracy"), ("sensitivity", "Sensitivity (tumours found)"),
                      ("specificity", "Specificity (healthy scans cleared)"), ("precision", "Precision"),
                      ("f1", "F1"), ("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC (average precision)"),
                      ("brier", "Brier score (lower is better)")):
        if key not in entry:
            continue
        as_percent = key in ("accuracy", "sensitivity", "specificity", "precision", "f1")
        if key in (entry.get("ci95") or {}):
            value = with_ci(entry, key, as_percent=as_percent)
        else:
            value = pct(entry[key]) if as_percent else f"{entry[key]:.4f}"
        rows.append(f"| {name} | {value} |")
    c = entry["confusion"]
    rows.append(f"| Confusion (tn / fp / fn / tp) | {c['tn']} / {c['fp']} / {c['fn']} / {c['tp']} |")
    return "\n".join(rows)


def csv_feature_paragraph(metrics: dict) -> str:
    check = metrics["csv_feature_check"]
    csv_row, image_row = metrics["models"]["forest_csv_features"], metrics["models"]["forest_image_features"]
    example = check.get("example", {})
    text = (
        f"**About the CSV-feature forest.** `Brain Tumor.csv` carries 13 texture features per scan. A random forest on "
        f"them reaches {pct(csv_row['accuracy'])} test accuracy, but they were not computed from these JPEGs: the "
        f"Spearman correlation between the CSV's `Mean` and the JPEG's actual mean grey level is "
        f"{check['mean']['spearman']:.2f}, and for `Variance` {check['variance']['spearman']:.2f} (features computed "
        f"from these files would give 1.00)"
    )
    if example:
        text += (f"; {example['image']}, for instance, has a JPEG mean of {example['jpeg_mean']:.1f} but a CSV `Mean` "
                 f"of {example['csv_mean']:.1f}")
    text += (
        f". The same kinds of features recomputed from the JPEGs give {pct(image_row['accuracy'])}. The CSV columns "
        f"carry information the images do not, so that row is a reference to explain, not a peer an image model "
        f"can fairly be asked to beat; every other row sees only the pixels."
    )
    return text


def architecture_summary(architecture: dict) -> str:
    """The shipped network in words, from its full `build_improved_cnn` arguments
    (`models.full_architecture`, stored in `metrics.json` under training.architecture)."""
    widths = [str(width) for width in architecture["widths"]]
    convs = architecture["convs_per_block"]
    per_block = "one convolution" if convs == 1 else (
        f"{convs} convolutions" if isinstance(convs, int) else "/".join(map(str, convs)) + " convolutions")
    norm = "conv-batch-norm-ReLU" if architecture["batch_norm"] else "conv-ReLU"
    parts = [f"{len(widths)} {norm} blocks ({per_block} each; {', '.join(widths[:-1])} and {widths[-1]} filters)"]
    if architecture["stem_stride"] != 1:
        parts.append(f"a first convolution with stride {architecture['stem_stride']}")
    if architecture["head"] == "flatten":
        head = "max pooling after every block, the last map flattened"
        dense = architecture["dense_units"]
        if dense:
            head += (" into a " if len(dense) == 1 else " into ") + " and ".join(map(str, dense)) + (
                "-unit dense ReLU layer" + ("s" if len(dense) > 1 else ""))
        parts.append(head)
    else:
        parts.append("global average pooling")
    parts.append(f"dropout {architecture['dropout']:g}")
    parts.append("softmax")
    text = ", ".join(parts)
    if architecture["augment"]:
        text += "; augmentation layers (flips, small rotations, shifts, zooms) active in training only"
    return text


def preprocessing_summary(architecture: dict) -> str:
    """What the network does to a raw scan before its first convolution."""
    side = architecture["resolution"]
    if architecture.get("preprocess", "resize") == "head_crop":
        return (f"each scan cropped to a square around its head, resized to {side}x{side} and divided by the head's "
                f"mean grey level, so slice size and brightness are taken away")
    return f"each scan resized to {side}x{side} and scaled to 0..1"


def gradcam_reading(heat: dict, map_width: int) -> str:
    """The report's reading of the Grad-CAM figures, worded from the measured shares.

    `heat` holds `head_fraction` (share of the picture that is head), `correct_mean` and
    `misclassified_mean` (share of heat on the head), `correct_bright` and
    `misclassified_bright` (share on the brightest tenth of the head's pixels).
    """
    on_head = heat["correct_mean"]
    if on_head >= 0.5:
        where = "most of the heat falls on the head"
    else:
        where = ("most of the heat falls outside the head, on its edge or on the black background, where there is "
                 "no anatomy to read")
    if on_head >= 1.5 * heat["head_fraction"]:
        where += ", though the head draws more heat than its area alone would"
    bright = heat["correct_bright"]
    if bright >= 0.2:  # twice what an even spread would give
        brightness = "; the network leans on bright structures (enhancing lesions, but also skull and scalp fat)."
    elif bright <= 0.075:  # clearly below an even spread
        brightness = ", less than an even spread would give, so it does not simply look for bright spots."
    else:
        brightness = ", about what an even spread gives: brightness alone does not steer it."
    return (
        f"The head covers {pct(heat['head_fraction'])} of a picture on average but receives "
        f"{pct(heat['correct_mean'])} of the heat on correct scans and {pct(heat['misclassified_mean'])} on "
        f"misclassified ones: {where}. The brightest tenth of the head's pixels receives "
        f"{pct(heat['correct_bright'])} of the heat on correct scans and {pct(heat['misclassified_bright'])} on "
        f"misclassified ones, against 10.0% for an even spread{brightness} In the figures, heat on a tumour scan "
        f"that covers the lesion is the expected picture; heat on the rim of the skull or outside the head is a "
        f"warning sign. Grad-CAM is coarse (the map it comes from is {map_width} cells wide for 240 pixels): it "
        f"shows a region, not a lesion's outline.{border_sentence(heat)}"
    )


def border_sentence(heat: dict) -> str:
    """Heat on the picture's outer band (`*_border`, `border_fraction`), if it was measured.

    Frame-shaped heat along the edge is what a network with zero padding and a flattened
    last map can do when it sees the whole picture: the padded edge is a fixed landmark and
    the distance from it to the head is the slice's size. Whether the shipped model does it
    is read from the numbers.
    """
    if "correct_border" not in heat:
        return ""
    text = (f" The picture's outer band (where there is only black background) covers "
            f"{pct(heat['border_fraction'])} of it and receives {pct(heat['correct_border'])} of the heat on correct "
            f"scans and {pct(heat['misclassified_border'])} on misclassified ones")
    if "correct_border_heavy" in heat:
        text += (f"; {heat['correct_border_heavy']} correct and {heat['misclassified_border_heavy']} misclassified "
                 f"maps put more than 40% of their heat there")
    blank = heat.get("correct_blank", 0) + heat.get("misclassified_blank", 0)
    if blank:
        text += f" ({blank} maps with no positive evidence at all are left out of these shares)"
    if heat["correct_border"] > 0.5 * heat["border_fraction"]:
        return text + (". Frame-shaped heat along the edge is what a network with zero padding and a flattened last "
                       "map can do: the padded edge is a fixed landmark, and the distance from it to the head is the "
                       "slice's size.")
    return text + (": the network does not read the frame. A model that crops each scan to its head has no frame "
                   "to read: its maps are zero outside the crop.")


def shipped_vs_reference(metrics: dict) -> str:
    """One plain sentence on how the shipped model compares with the reference CNN."""
    shipped, reference = metrics["models"]["improved_cnn"], metrics["models"]["reference_cnn"]

    def compare(key: str) -> str:
        a, b = shipped[key], reference[key]
        if a == b:
            return "the same"
        return "higher" if a > b else "lower"

    ratio = reference["parameters"] / shipped["parameters"]
    size_ratio = f"{ratio:.0f} times fewer parameters" if ratio >= 1 else f"{1 / ratio:.0f} times more parameters"
    return (
        f"**Shipped vs reference CNN.** On these rows the shipped model's accuracy is {compare('accuracy')} "
        f"({pct(shipped['accuracy'])} vs {pct(reference['accuracy'])}), its sensitivity {compare('sensitivity')} "
        f"({pct(shipped['sensitivity'])} vs {pct(reference['sensitivity'])}, {shipped['missed_tumours']} vs "
        f"{reference['missed_tumours']} missed tumours) and its ROC AUC {compare('roc_auc')} "
        f"({shipped['roc_auc']:.3f} vs {reference['roc_auc']:.3f}); it has {size_ratio}."
    )


def near_duplicate_paragraph(near: dict) -> str:
    """Accuracy with and without a near-duplicate in train (`analysis.accuracy_by_near_duplicate`
    plus the `threshold` it was counted at)."""
    threshold = near["threshold"]
    levels = "grey level" if threshold == 1 else "grey levels"
    with_nd, without = near["with_near_duplicate"], near["without_near_duplicate"]
    return (
        f"**Near-duplicates.** Beyond the byte-identical copies (kept on one side of the split), "
        f"{with_nd['n']} of the {with_nd['n'] + without['n']} test scans have a near-identical scan in train "
        f"(16x16 thumbnails differing by at most {threshold:g} {levels} on average; see `data_prep.ipynb`). "
        f"On those the shipped model is right on {with_nd['correct']} of {with_nd['n']} "
        f"({pct(with_nd['accuracy'])}); on the {without['n']} test scans without such a twin it is right on "
        f"{without['correct']} ({pct(without['accuracy'])}, 95% CI {pct(without['ci95'][0])}–{pct(without['ci95'][1])})."
    )


def cv_complete(cv: dict | None) -> bool:
    """Whether a cross-validation file holds every fold of every model (`make cv` resumes)."""
    return bool(cv) and bool(cv.get("models")) and all(
        model.get("summary") and len(model["folds"]) == cv["folds"] for model in cv["models"].values())


def cv_paragraph(cv: dict | None) -> str:
    if not cv_complete(cv):
        return "_Cross-validation of the shipped recipe is not complete yet: run `make cv`._"
    return (
        f"**Cross-validation** ({cv['folds']} stratified folds grouped by duplicate images, over the "
        f"{cv['n_images']} train and validation scans; the test rows are not used). Mean ± standard deviation "
        f"over folds, from `{cv['file']}`:\n\n" + cv_table(cv)
    )



def _metric_cells(entry: dict) -> str:
    return (f"{with_ci(entry, 'accuracy')} | {with_ci(entry, 'sensitivity')} | {with_ci(entry, 'specificity')} "
            f"| {with_ci(entry, 'roc_auc', as_percent=False)}")


def block_table(metrics: dict, block: str, count: str = "Scans") -> str:
    """Every model that has a `block` of figures (`head_matched`, `outside`) in one table:
    its size, threshold and the four headline metrics with their 95% intervals."""
    rows = [f"| Model | {count} | Threshold | Accuracy (95% CI) | Sensitivity (95% CI) | Specificity (95% CI) "
            f"| ROC AUC (95% CI) |", "|---|---:|---:|---|---|---|---|"]
    for key, label in MODEL_ORDER:
        entry = metrics["models"].get(key, {}).get(block)
        if entry:
            size = entry["n_pairs"] if count == "Pairs" else entry["n"]
            rows.append(f"| {label} | {size} | {entry['threshold']:.3f} | {_metric_cells(entry)} |")
    return "\n".join(rows)


def matched_paragraph(metrics: dict) -> str:
    """What the head-size-matched pairs are and what they show, with the table."""
    matching = metrics.get("head_matching")
    if not matching:
        return ""
    cues, shipped = metrics["models"].get("trivial_cues"), metrics["models"]["improved_cnn"]
    text = ("**Tumour or slice level?** Scans without a tumour here are mostly small slices near the top or bottom "
            "of the brain, so size and brightness alone go far: five slice-level cues in a random forest reach ")
    if cues:
        cv = cues.get("cross_validation")
        text += (f"{pct(cues['accuracy'])} test accuracy (ROC AUC {cues['roc_auc']:.3f})"
                 + (f", {pct(cv['summary']['accuracy']['mean'])} ± {100 * cv['summary']['accuracy']['std']:.1f} in "
                    f"grouped 5-fold cross-validation" if cv else "") + ". ")
    text += (f"On {matching['pairs']} head-size-matched test pairs size says nothing about the label; there the "
             f"shipped model scores {pct(shipped['head_matched']['accuracy'])} accuracy and ROC AUC "
             f"{shipped['head_matched']['roc_auc']:.3f}, against {shipped['roc_auc']:.3f} on all test rows. "
             f"The pairing rule: {matching['rule']}")
    text += matched_cv_sentences(matching.get("cross_validation"))
    return text + "\n\n" + block_table(metrics, "head_matched", count="Pairs")


#: How the model card words the shipped recipe's training weights (`training_recipes.SHIPPED_WEIGHTING`).
WEIGHTING_WORDS = {"head_area": "training scans weighted so that head size does not predict the label (both classes "
                                "weigh the same within each fifth of the training scans by head area), "}


def _auc_with_ci(entry: dict) -> str:
    """A cross-validated matched-pair ROC AUC with its interval, to four places: the figures
    sit within a few thousandths of one another and of the 0.995 the project aims for, and
    three places would round 0.9946 up to that bar."""
    low, high = entry["roc_auc_ci95"]
    return f"{entry['roc_auc']:.4f} ({low:.4f}–{high:.4f})"


def _matched_auc(entry: dict) -> str:
    return f"ROC AUC {_auc_with_ci(entry)} on {entry['n_pairs']} pairs"


def matched_cv_sentences(matched_cv: dict | None) -> str:
    """The matched-pair figures of the cross-validations (`evaluation.cross_validated_matched`):
    more pairs than the test rows hold, so a narrower interval, and the decisions taken on them."""
    if not matched_cv or not ({"all_scans", "train_val"} & set(matched_cv)):
        return ""
    pools = [(f"all {entry['n_scans']} scans" if key == "all_scans" else
              f"the {entry['n_scans']} train and validation scans", entry)
             for key in ("all_scans", "train_val") if (entry := matched_cv.get(key))]
    text = (" Grouped cross-validation measures the same on more pairs, from the out-of-fold probabilities of the "
            "shipped recipe trained afresh in each of five folds (the pairs formed by the same rule over the whole "
            "pool): "
            + "; ".join(f"over {scans}, {_matched_auc(entry[entry.get('shipped', 'plain')])}"
                        for scans, entry in pools) + ".")
    decisions = matched_cv.get("decisions", {})
    train_val = matched_cv.get("train_val")
    shipped = lambda decision: "is therefore shipped" if decision["ships"] else "is therefore not shipped"
    if "mirror_average" in decisions:
        text += (f" Averaging each scan's probability with that of its mirror image scores "
                 f"{train_val['flip_average']['roc_auc']:.4f} on the train and validation pairs against "
                 f"{train_val['plain']['roc_auc']:.4f} without, and {shipped(decisions['mirror_average'])} (the rule, "
                 f"written before that cross-validation ran: {decisions['mirror_average']['rule']}).")
    if "head_area_weighting" in decisions:
        decision = decisions["head_area_weighting"]
        weighted, unweighted = (matched_cv[decision[key]]["plain"] for key in ("weighted", "unweighted"))
        text += (f" Weighing the training scans so that head size does not predict the label (both classes weigh "
                 f"the same within each fifth of the training scans by head area) scores {_auc_with_ci(weighted)} on "
                 f"the train and validation pairs against {_auc_with_ci(unweighted)} without, fold accuracy "
                 f"{pct(weighted['fold_accuracy_mean'], 2)} against {pct(unweighted['fold_accuracy_mean'], 2)}, and "
                 f"{shipped(decision)} (the rule, written before its cross-validation ran: {decision['rule']}).")
    if "seed_ensemble" in decisions:
        decision = decisions["seed_ensemble"]
        single, ensemble = (matched_cv[decision["record"]][key] for key in ("plain", "seed_ensemble"))
        text += (f" The mean of {decision['members']} networks trained alike from different seeds scores "
                 f"{_auc_with_ci(ensemble)} on the train and validation pairs against {_auc_with_ci(single)} for the "
                 f"first alone, fold accuracy {pct(ensemble['fold_accuracy_mean'], 2)} against "
                 f"{pct(single['fold_accuracy_mean'], 2)}, and {shipped(decision)} (the rule, written before its "
                 f"cross-validation ran: {decision['rule']}).")
    return text


def outside_paragraph(metrics: dict, looks: str) -> str:
    """The outside-scan result, or why there is none."""
    shipped = metrics["models"]["improved_cnn"].get("outside")
    if not shipped:
        return ("**Outside scans.** Not scored in this run: set `BRAIN_TUMOR_EXTERNAL` to a folder of class folders "
                "(see [Getting the data](#getting-the-data)).")
    tumours = shipped["confusion"]["tp"] + shipped["confusion"]["fn"]
    return (f"**Outside scans** ({shipped['n']} clinical axial slices of another public set, {tumours} with a tumour; "
            f"evaluation only). The shipped model, at its validation threshold, scores {pct(shipped['accuracy'])} "
            f"accuracy, sensitivity {pct(shipped['sensitivity'])}, specificity {pct(shipped['specificity'])}, ROC AUC "
            f"{shipped['roc_auc']:.3f}; calling every scan 'tumour' would score {pct(tumours / shipped['n'])}."
            + _unique_sentence(metrics["models"]["improved_cnn"].get("outside_unique"), shipped["n"])
            + (" It does not carry to scans with a skull, other scanners and other sequences."
               if shipped["specificity"] < 0.5 or shipped["roc_auc"] < 0.8 else "")
            + f" {looks}\n\n"
            + block_table(metrics, "outside"))


def _unique_sentence(unique: dict | None, n: int) -> str:
    """The outside figures once per unique file, when the set holds byte-identical copies."""
    if not unique or unique["n"] == n:
        return ""
    return (f" The set holds byte-identical copies; over its {unique['n']} unique files: accuracy "
            f"{pct(unique['accuracy'])}, sensitivity {pct(unique['sensitivity'])}, specificity "
            f"{pct(unique['specificity'])}, ROC AUC {unique['roc_auc']:.3f}.")


def tertile_table(tertiles: list[dict]) -> str:
    """The shipped model within each third of the test scans by head area."""
    rows = ["| Head area (share of the picture) | Scans | Tumours | Accuracy (95% CI) | Sensitivity (95% CI) "
            "| Specificity (95% CI) | ROC AUC (95% CI) |", "|---|---:|---:|---|---|---|---|"]
    for row in tertiles:
        low, high = row["head_area_range"]
        rows.append(f"| {pct(low)}–{pct(high)} | {row['n']} | {row['tumours']} | {_metric_cells(row)} |")
    return "\n".join(rows)


def threshold_paragraph(metrics: dict, cv: dict | None) -> str:
    """What the validation threshold promises and what it does not."""
    test, floor = metrics["test"], metrics["validation"]["sensitivity"]
    text = (f"**The threshold.** {metrics['threshold']:.3f} was chosen on the validation rows, where it found "
            f"{pct(floor)} of tumours ({metrics['threshold_rule']}). On the test rows sensitivity is "
            f"{pct(test['sensitivity'])}")
    text += (" — below the rule's floor: a floor met on one set of scans is not a guarantee on the next."
             if test["sensitivity"] < floor - 1e-9 else ".")
    folds = shipped_cv_model(cv)["folds"] if cv_complete(cv) else None
    if folds:
        thresholds = [fold["threshold"] for fold in folds]
        text += (f" In cross-validation the same rule chose thresholds from {min(thresholds):.3f} to "
                 f"{max(thresholds):.3f} in the five folds: the probabilities are sharp (most near 0 or 1) and the "
                 f"threshold that meets a sensitivity floor depends on a handful of borderline scans. A user who "
                 f"needs a given sensitivity should set the threshold on labelled scans of their own.")
    return text


def epochs_and_seeds(training: dict) -> str:
    """How long the shipped network trained and from which seed; for a seed ensemble, each member."""
    members = training.get("members")
    if not members:
        return f"{training['epochs_run']} epochs run, best epoch {training['best_epoch']}, seed {training['seed']}"
    return (f"{len(members)} networks averaged, from seeds " + ", ".join(str(m["seed"]) for m in members)
            + " (epochs run " + ", ".join(str(m["epochs_run"]) for m in members)
            + "; best epochs " + ", ".join(str(m["best_epoch"]) for m in members) + ")")


def run_statement(metrics: dict) -> str:
    """Which run made the numbers: schedule, CPU and training time."""
    training = metrics["training"]
    machine = training.get("machine", {})
    schedule = metrics.get("schedule", "full")
    kind = ("the full training schedule (`make reproduce`)" if schedule == "full"
            else "the SHORTENED check schedule of `make test` — not the committed results")
    return (f"These figures come from {kind}, run on {machine.get('cpu', 'an unrecorded CPU')} "
            f"({machine.get('usable_cores', '?')} cores); the shipped model trained in {training['seconds']:.0f} s there.")


def headline(metrics: dict, cv: dict | None, outside: dict | None) -> str:
    """The README's first figures: the cross-validated estimate, the test confirmation, the outside scans
    (and the two-source model's outside figure, where there is one)."""
    test = metrics["test"]
    lines = []
    if cv_complete(cv) and "improved_cnn" in cv["models"]:
        summary = shipped_cv_model(cv)["summary"]
        scans = ("all " + f"{cv['n_images']} scans, test rows included" if cv["setup"].get("pool") == "all"
                 else f"the {cv['n_images']} train and validation scans")
        lines.append(
            f"- **Cross-validated estimate** (the shipped recipe, {cv['folds']} folds grouped so that copies of a scan "
            f"never straddle two folds, each fold setting its own early stopping and threshold, over {scans}): accuracy "
            f"{pct(summary['accuracy']['mean'])} ± {100 * summary['accuracy']['std']:.1f}, sensitivity "
            f"{pct(summary['sensitivity']['mean'])}, specificity {pct(summary['specificity']['mean'])}, ROC AUC "
            f"{summary['roc_auc']['mean']:.3f}"
            + (f"; on head-size-matched pairs, where head size says nothing, {_matched_auc(cv['matched_pairs'][shipped_cv_variant(cv)])}"
               if cv.get("matched_pairs") else "") + ".")
    lines.append(
        f"- **Test rows, as a confirmation** ({test['n']} scans): accuracy {with_ci(test, 'accuracy')}, sensitivity "
        f"{with_ci(test, 'sensitivity')}, specificity {with_ci(test, 'specificity')}. These rows have "
        f"been scored {len(disclosure.TEST_ROW_LOOKS)} times ({disclosure.SHIPPED_SINGLE_SOURCE_LOOKS} shipped models "
        f"in turn, a study, the two-source model), so they confirm rather than estimate.")
    if outside:
        lines.append(
            f"- **Outside scans** ({outside['n']} clinical slices from another public set, with a skull): accuracy "
            f"{with_ci(outside, 'accuracy')}, sensitivity {pct(outside['sensitivity'])}, **specificity "
            f"{pct(outside['specificity'])}**, ROC AUC {outside['roc_auc']:.3f}.")
    two_outside = ((metrics.get("two_source") or {}).get("scores") or {}).get("outside")
    if two_outside:
        lines.append(
            f"- **The two-source model** (also trained on a second, clinical source; see [Two training sources]"
            f"(#two-training-sources)) on the same outside scans: accuracy {with_ci(two_outside, 'accuracy')}, "
            f"sensitivity {pct(two_outside['sensitivity'])}, specificity {pct(two_outside['specificity'])}, ROC AUC "
            f"{two_outside['roc_auc']:.3f}.")
    lines += [
        "",
        "**Limits:** the model was trained on skull-stripped slices of one public dataset whose "
        "healthy scans are mostly small slices from the top or bottom of the brain. " + outside_limit(outside),
        "",
        "*Grouped cross-validation* trains and scores five fresh models, each on four fifths of the scans and "
        "tested on the fifth, with copies of one scan kept in the same fifth. *Sensitivity* is the share of "
        "tumour scans called 'tumour'; *specificity* the share of healthy scans called 'no tumour'.",
    ]
    return "\n".join(lines)


def outside_limit(outside: dict | None) -> str:
    """One sentence on what the outside scans say about scans from elsewhere, from their figures."""
    if not outside:
        return "It has not been scored on scans from elsewhere in this run."
    if outside["specificity"] < 0.5:
        return "On clinical scans from elsewhere, with a skull, it calls most healthy brains 'tumour'."
    if outside["roc_auc"] < 0.8:
        return (f"On clinical scans from elsewhere, with a skull, it tells tumour from healthy scans little better "
                f"than chance (ROC AUC {outside['roc_auc']:.2f}, sensitivity {pct(outside['sensitivity'])}).")
    return f"On clinical scans from elsewhere its figures are lower (ROC AUC {outside['roc_auc']:.2f})."


def headline_cv(ctx: dict) -> dict | None:
    """The cross-validation the headline quotes: over all scans when that run is complete,
    else over the train and validation rows."""
    return ctx.get("cv_all") if cv_complete(ctx.get("cv_all")) else ctx.get("cv")


def readme_sections(ctx: dict, benchmark: dict | None, costs: dict | None = None) -> dict[str, str]:
    """Every generated section of the README, from the error analysis's context."""
    return {
        "headline": headline(ctx["metrics"], headline_cv(ctx), ctx["metrics"]["models"]["improved_cnn"].get("outside")),
        "results": readme_results(ctx["metrics"], ctx["near"], ctx.get("cv"), disclosure.OUTSIDE_HISTORY)
        + "\n\nThe shipped model within each third of the test scans by head area (cut points from the test "
          "scans; the smallest heads are mostly healthy slices from the top or bottom of the brain):\n\n"
        + tertile_table(ctx["tertiles"])
        + "\n\n" + input_check_paragraph(ctx["metrics"]["input_check"], ctx["input_check"]),
        "benchmark": benchmark_section(benchmark),
        "costs": costs_section(costs),
        "sources": two_source_paragraph(ctx["metrics"], ctx.get("study")),
    }


def readme_results(metrics: dict, near: dict, cv: dict | None, looks: str = "") -> str:
    test = metrics["test"]
    lines = [
        f"All models are scored on the same {test['n']} test scans of `data/splits.csv` "
        f"({metrics['split_counts']['test']['tumours']} with a tumour). The shipped model calls a scan 'tumour' when "
        f"its tumour probability is at least {metrics['threshold']:.3f}, a threshold chosen on the validation rows "
        f"({metrics['threshold_rule']}). 95% confidence intervals: Wilson for proportions, bootstrap over test scans "
        f"for ROC AUC. {run_statement(metrics)}",
        "",
        results_table(metrics),
        "",
        shipped_vs_reference(metrics),
        "",
        threshold_paragraph(metrics, cv),
        "",
        matched_paragraph(metrics),
        "",
        outside_paragraph(metrics, looks),
        "",
        csv_feature_paragraph(metrics),
        "",
        "**The original notebook's numbers** come from a random split that puts copies of one scan on both sides; "
        "ours keep them apart, so that row is quoted, not recomputed.",
        "",
        near_duplicate_paragraph(near),
        "",
        cv_paragraph(cv),
    ]
    return "\n".join(lines)


def benchmark_section(bench: dict | None) -> str:
    """The figures `bench/benchmark.py` measured, with the machine they came from."""
    if not bench:
        return "_No benchmark yet: run `make bench`._"
    machine = bench["machine"]
    throughput = bench["throughput_images_per_second_by_batch_size"]
    best_batch = max(throughput, key=lambda size: throughput[size])
    memory = bench["peak_memory_mib"]
    lines = [
        f"Measured by `bench/benchmark.py` (`make bench`) on {machine['cpu']}, {machine['usable_cores']} cores, "
        f"{machine['memory_gib']} GiB, no GPU:",
        "",
        "| What | Measured |",
        "|---|---|",
        "| Batch inference throughput | " + ", ".join(f"{rate:.0f} images/s at batch {size}" for size, rate in throughput.items())
        + f" ({bench['throughput_measured_on']}) |",
        f"| One image through `python -m braintumor predict`, whole process | {bench['predict_one_image_seconds']['median']:.2f} s "
        f"(median of {len(bench['predict_one_image_seconds']['runs'])}, TensorFlow start-up included) |",
        f"| A folder of {bench['predict_folder']['images']} images through `predict` | {bench['predict_folder']['seconds']:.1f} s "
        f"({bench['predict_folder']['images_per_second_including_startup']:.0f} images/s with start-up) |",
        f"| Peak memory | predict on one image {memory['predict_one_image_process']:.0f} MiB, on the folder "
        f"{memory['predict_folder_process']:.0f} MiB; the benchmark process {memory['benchmark_process']:.0f} MiB |",
    ]
    if bench.get("training_seconds") is not None:
        lines.append(f"| Training the shipped model (`model.ipynb`) | {bench['training_seconds']:.0f} s |")
    lines += ["", f"Best batch size here: {best_batch}."]
    return "\n".join(lines)


def erroranalysis_markdown(ctx: dict) -> str:
    metrics, test = ctx["metrics"], ctx["test"]
    training = metrics["training"]
    wrong = ctx["misclassified"]
    heat = ctx["heat"]
    lines = [
        GENERATED_NOTE,
        "# Error analysis of the shipped model",
        "",
        f"The model in `{metrics['model_file']}` (improved CNN, {training['parameters']:,} parameters; "
        f"{preprocessing_summary(training['architecture'])}, inside the model) was reloaded from disk in safe mode and "
        f"run on the {test['n']} test scans of `data/splits.csv`. {disclosure.TEST_ROW_HISTORY} "
        f"It calls a scan 'tumour' at a tumour probability of at least {metrics['threshold']:.3f} "
        f"({metrics['threshold_rule']}). The recomputed figures equal those in `model/metrics.json`. "
        f"{run_statement(metrics)}",
        "",
        "## Test metrics",
        "",
        metric_rows(test),
        "",
        threshold_paragraph(metrics, ctx.get("cv")),
        "",
        "![Confusion matrix](img/confusion_matrix.png)",
        "",
        "## ROC and precision-recall curves",
        "",
        "![ROC and precision-recall curves](img/roc_pr.png)",
        "",
        "## Calibration",
        "",
        f"Brier score {test['brier']:.4f}. The reliability diagram compares the predicted tumour probability with how "
        f"often scans in each probability bin really hold a tumour.",
        "",
        "![Reliability diagram](img/reliability.png)",
        "",
        "## Ten test predictions",
        "",
        "![Ten test predictions](img/test_predictions.png)",
        "",
        f"## Every misclassified scan ({len(wrong)})",
        "",
    ]
    if wrong:
        lines += ["| Scan | Error | Tumour probability |", "|---|---|---:|"]
        lines += [f"| {w['image']} | {w['error']} | {w['probability']:.3f} |" for w in wrong]
    else:
        lines.append("No test scan is misclassified.")
    lines += [
        "",
        "![Misclassified scans](img/misclassified.png)",
        "",
        "## Where the network looks: Grad-CAM",
        "",
        f"Grad-CAM weighs the last feature maps of the network by the gradient of the tumour score. The shares below "
        f"are over every test scan: {heat['misclassified_n']} misclassified and {heat['correct_n']} correct. The "
        f"figures show the misclassified scans and three correct ones of each class; each map is scaled to its own "
        f"maximum, so a panel compares places within one scan, not one scan with another.",
        "",
        ctx["gradcam_reading"],
        "",
        "![Grad-CAM of misclassified scans](img/gradcam_misclassified.png)",
        "",
        "![Grad-CAM of correctly classified scans](img/gradcam_correct.png)",
        "",
        "## Near-duplicates between train and test",
        "",
        near_duplicate_paragraph(ctx["near"]),
        "",
        "## Tumour or slice level?",
        "",
        matched_paragraph(metrics),
        "",
        "The shipped model within each third of the test scans by head area (cut points from the test scans):",
        "",
        tertile_table(ctx["tertiles"]),
        "",
        "## Outside scans",
        "",
        outside_paragraph(metrics, disclosure.OUTSIDE_HISTORY),
        "",
    ]
    if ctx.get("outside"):
        lines += ["![Misclassified outside scans](img/outside_misclassified.png)", "",
                  "![Grad-CAM of misclassified outside scans](img/gradcam_outside.png)", ""]
    lines += [
        "## Two sources",
        "",
        two_source_paragraph(metrics, ctx.get("study")),
        "",
        "## Scans unlike the training data",
        "",
        input_check_paragraph(metrics["input_check"], ctx["input_check"]),
        "",
        "## Against the baselines",
        "",
        results_table(metrics),
        "",
        csv_feature_paragraph(metrics),
        "",
        "## Stability across folds",
        "",
        cv_paragraph(ctx.get("cv")),
        "",
        "## What this analysis cannot tell",
        "",
        "- The dataset has no patient identifiers: neighbouring slices of one patient can sit in train and test, "
        "beyond the near-duplicates counted above, so these figures may be optimistic for new patients.",
        "- One public dataset of skull-stripped axial slices with an unknown mix of scanners and sequences; the "
        "outside scans above are one other set, not a survey of clinical data.",
        "- Grad-CAM shows where the evidence sits at a coarse resolution; it is not a segmentation.",
    ]
    return "\n".join(lines)


def input_check_paragraph(rule: dict, rates: dict) -> str:
    """How `predict`'s warning is set and how often it fires."""
    text = (f"`python -m braintumor predict` adds a `warning` to a scan that looks unlike the training rows. "
            f"{rule['description']} It fires on {pct(rates['test'])} of this dataset's test rows")
    if "outside" in rates:
        text += f" and on {pct(rates['outside'])} of the outside scans"
    return text + "."


def model_card_markdown(ctx: dict) -> str:
    metrics, test = ctx["metrics"], ctx["test"]
    training = metrics["training"]
    counts = metrics["split_counts"]
    versions = ", ".join(f"{k} {v}" for k, v in training["versions"].items())
    return "\n".join([
        GENERATED_NOTE,
        "# Model card: `model/braintumor.keras`",
        "",
        "## What it is",
        "",
        f"A small convolutional network (improved CNN, {training['parameters']:,} parameters: "
        f"{architecture_summary(training['architecture'])}) trained from scratch with TensorFlow/Keras. It takes raw "
        f"grey axial MRI slices shaped `(N, 240, 240, 1)` with values 0 to 255 ("
        f"{preprocessing_summary(training['architecture'])}: layers inside it) and returns `(N, 2)` "
        f"softmax probabilities `[no tumour, tumour]`. A scan is called 'tumour' when its tumour probability is at "
        f"least {metrics['threshold']:.3f} ({metrics['threshold_rule']}). Native `.keras` format; loads with "
        f"`keras.models.load_model(path, safe_mode=True)`.",
        "",
        "## Intended use",
        "",
        "Research and teaching: a worked, reproducible example of a medical-image classifier and of honest "
        "evaluation. **Not a medical device and not for diagnosis**, triage or any decision about a person.",
        "",
        "## Data",
        "",
        f"The public Kaggle dataset \"Brain Tumor\" (jakeshbohaju/brain-tumor): "
        f"{sum(part['images'] for part in counts.values())} axial slices. Split, "
        f"stratified by label, byte-identical copies kept together: train {counts['train']['images']} "
        f"({counts['train']['tumours']} tumours), validation {counts['val']['images']} ({counts['val']['tumours']}), "
        f"test {counts['test']['images']} ({counts['test']['tumours']}).",
        "",
        "## Performance",
        "",
        headline(metrics, headline_cv(ctx), metrics["models"]["improved_cnn"].get("outside")),
        "",
        "### On the test rows",
        "",
        metric_rows(test),
        "",
        threshold_paragraph(metrics, ctx.get("cv")),
        "",
        near_duplicate_paragraph(ctx["near"]),
        "",
        matched_paragraph(metrics),
        "",
        "### Outside scans",
        "",
        outside_paragraph(metrics, disclosure.OUTSIDE_HISTORY),
        "",
        "### Warnings on unfamiliar scans",
        "",
        input_check_paragraph(metrics["input_check"], ctx["input_check"]),
        "",
        cv_paragraph(ctx.get("cv")),
        "",
        "## The second model: `model/braintumor_two_source.keras`",
        "",
        two_source_paragraph(metrics, ctx.get("study")),
        "",
        two_source_trust(metrics),
        "",
        "## Training",
        "",
        f"Adam{' with a cosine learning-rate schedule' if training['recipe'].get('cosine_decay') else ''}, L2 weight "
        f"decay, {'augmentation layers active only in training, ' if training['architecture'].get('augment', True) else ''}"
        f"{WEIGHTING_WORDS.get(training.get('weighting', 'none'), '')}"
        f"early stopping on validation loss (watching from epoch {training['recipe'].get('start_from_epoch', 0)} on) "
        f"with the best weights restored: {epochs_and_seeds(training)}, "
        f"{training['seconds']:.0f} s on {training.get('machine', {}).get('cpu', 'the CPU that ran `model.ipynb`')}. "
        f"{versions}. {run_statement(metrics)}",
        "",
        "## Known limits",
        "",
        "- One public dataset of axial slices; the scanners, sequences and patients behind it are not documented.",
        "- No patient identifiers: neighbouring slices of one patient may sit on both sides of the split, beyond "
        "the near-duplicates counted above, so the test figures may be optimistic for new patients.",
        "- Only 'tumour' vs 'no tumour': no tumour type, location or size.",
        "- The healthy scans of this dataset are mostly small slices from the top or bottom of the brain. "
        + ("The network cannot read a slice's size or brightness (it crops and rescales each head), but it can "
           "still read the anatomy of such slices; "
           if training["architecture"].get("preprocess") == "head_crop" else "The network can read slice size; ")
        + "the head-size-matched figures show what is left without size. " + outside_limit(
            metrics["models"]["improved_cnn"].get("outside"))
        + " Do not trust it on scans that are not skull-stripped axial slices like these; `predict`'s warning "
          "flags many of them.",
        "- The `predict` command gives a number for any picture, meaningful or not.",
        "",
        "## How to reproduce",
        "",
        "`make reproduce` with `BRAIN_TUMOR_DATA` pointing at the unpacked Kaggle archive: it validates the raw "
        "data, retrains every model and regenerates this card, `erroranalysis.md` and the README's results.",
    ])


def slow_cpu_estimate(entries: list[dict]) -> str:
    """An estimate, clearly marked, of each AMD-only measurement on the Intel Xeon, from the
    one command measured on both (the ratio of their minutes)."""
    by_command: dict[str, dict[str, float]] = {}
    for entry in entries:
        by_command.setdefault(entry["command"], {})[entry["cpu"]] = entry["minutes"]
    both = [times for times in by_command.values() if len(times) >= 2
            and any("AMD" in cpu for cpu in times) and any("Intel" in cpu for cpu in times)]
    if not both:
        return ""
    amd = next(m for cpu, m in both[0].items() if "AMD" in cpu)
    intel = next(m for cpu, m in both[0].items() if "Intel" in cpu)
    ratio = intel / amd
    latest = [e for e in entries if "AMD" in e["cpu"] and e["command"] not in {c for c, t in by_command.items() if len(t) >= 2}]
    if not latest:
        return ""
    guesses = ", ".join(f"`{e['command']}` about {e['minutes'] * ratio:.0f} min" for e in latest)
    return (f"\n\nNot measured on the Intel Xeon since the check schedule: scaling by the ratio measured there before "
            f"({intel:.0f} / {amd:.0f} min = {ratio:.1f}x) gives an estimate of {guesses}.")


def costs_section(costs: dict | None) -> str:
    """What `make reproduce` and `make test` cost, by CPU, from `model/run_costs.json`."""
    if not costs or not costs.get("entries"):
        return "_Not measured yet: run `python bench/time_run.py \"make test\"`._"
    from ..evaluation.records import CHECK_FLOORS
    from ..models.recipes import CHECK_SCHEDULE, RECIPES

    floors = {name: CHECK_FLOORS[name]["accuracy"] for name in CHECK_FLOORS}
    schedule = (f"The check schedule trains the improved CNN for {CHECK_SCHEDULE['improved']['max_epochs']} epochs "
                f"instead of up to {RECIPES['improved']['max_epochs']}, the reference CNN for at most "
                f"{CHECK_SCHEDULE['reference']['max_epochs']} instead of {RECIPES['reference']['max_epochs']}; the "
                f"improved CNN's test accuracy must then reach {pct(floors['check'], 0)} ({pct(floors['full'], 0)} on "
                f"the full schedule), where shuffled labels or a one-class model score about 55%.\n\n")
    rows = ["| Command | CPU (`lscpu` model name) | Cores | Minutes | How it was run |", "|---|---|---:|---:|---|"]
    rows += [f"| `{e['command']}` | {e['cpu']} | {e['cores']} | {e['minutes']:.1f} | {e['note']} |"
             for e in costs["entries"]]
    rows_text = "\n".join(rows) + slow_cpu_estimate(costs["entries"])
    return schedule + rows_text + (
        "\n\nTraining dominates both. TensorFlow's CPU kernels run 3-4x slower on the Intel Xeon these runs have met "
        "than on the AMD EPYC, which is why `make test` trains on the shorter check schedule: it must finish well "
        "within CI's 90 minutes on the slower machine. Measured with `bench/time_run.py`.")


# --------------------------------------------------------------------------------------
# Two sources: the leave-one-source-out study and the two models side by side
# --------------------------------------------------------------------------------------

#: Columns of the source study and of the side-by-side table: (key in the scores, title).
HELD_OUT_COLUMNS = (
    ("brain_tumor_test", "A: test rows"),
    ("brain_tumor_matched_test", "A: head-size-matched test pairs"),
    ("extra_test", "B: held-out rows"),
    ("outside", "C: outside scans"),
)


def _variant(row: dict) -> str:
    architecture = row.get("architecture", {})
    parts = ["head crop" if architecture.get("preprocess") == "head_crop" else "whole picture"]
    if architecture.get("skull_rim"):
        parts.append(f"skull-like rim on {pct(architecture['skull_rim'], 0)} of training scans")
    if architecture.get("photometric"):
        parts.append("gamma/gain/noise")
    if architecture.get("augment"):
        parts.append("flips/rotation/shift/zoom")
    return ", ".join(parts)


def source_study_rows(study: dict) -> list[dict]:
    """One dict a study row, for a DataFrame: what it trained on, its validation ROC AUCs and
    (once scored) its held-out ROC AUCs; the picked row is marked."""
    rows = []
    for row in study["rows"]:
        validation, held_out = row["validation"], row.get("held_out", {})
        line = {
            "row": row["name"] + (" (picked)" if row["name"] == study.get("picked") else ""),
            "trained on": " + ".join("A" if s == "brain-tumor" else "B" for s in row["sources"]),
            "variant": _variant(row),
            "val AUC A": validation["brain_tumor"]["roc_auc"],
            "val AUC A matched": validation["brain_tumor_matched"]["roc_auc"],
            "val AUC B": validation["extra"]["roc_auc"],
        }
        for key, title in HELD_OUT_COLUMNS:
            if key in held_out:
                line[title.split(":")[0] + " AUC"] = held_out[key]["roc_auc"]
        if "outside" in held_out:
            line["C sens"] = held_out["outside"]["sensitivity"]
            line["C spec"] = held_out["outside"]["specificity"]
        rows.append(line)
    return rows


def source_study_table(study: dict) -> str:
    """The study as markdown: validation ROC AUCs (what the pick read), then held-out ones."""
    scored = any("held_out" in row for row in study["rows"])
    header = ["Row", "Trained on", "Variant", "Val A", "Val A matched", "Val B"]
    if scored:
        header += ["Test A (acc / AUC)", "A matched pairs", "B held-out (AUC)", "C outside (sens / spec / AUC)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in study["rows"]:
        validation, held_out = row["validation"], row.get("held_out", {})
        name = f"**{row['name']}** (picked)" if row["name"] == study.get("picked") else row["name"]
        cells = [name, " + ".join("A" if s == "brain-tumor" else "B" for s in row["sources"]), _variant(row),
                 f"{validation['brain_tumor']['roc_auc']:.3f}", f"{validation['brain_tumor_matched']['roc_auc']:.3f}",
                 f"{validation['extra']['roc_auc']:.3f}"]
        if scored:
            a, matched, b = held_out["brain_tumor_test"], held_out["brain_tumor_matched_test"], held_out["extra_test"]
            outside = held_out.get("outside")
            cells += [f"{pct(a['accuracy'])} / {a['roc_auc']:.3f}", f"{matched['roc_auc']:.3f}", f"{b['roc_auc']:.3f}",
                      f"{pct(outside['sensitivity'])} / {pct(outside['specificity'])} / {outside['roc_auc']:.3f}"
                      if outside else "not scored"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def everywhere_rows(single: dict, two: dict | None) -> list[dict]:
    """Both models' headline figures on each held-out set (`evaluation.score_everywhere`), a
    row per (set, model), for a DataFrame."""
    rows = []
    for key, title in HELD_OUT_COLUMNS:
        for label, scores in (("single-source", single), ("two-source", two or {})):
            if scores.get(key):
                entry = scores[key]
                rows.append({"held-out set": title, "model": label, "scans": entry.get("n_pairs", entry["n"]),
                             **{name: entry[name] for name in ("accuracy", "sensitivity", "specificity", "roc_auc")}})
    return rows


def two_source_table(metrics: dict) -> str:
    """Both models on every held-out set, with 95% intervals."""
    two = metrics.get("two_source")
    if not two:
        return ""
    models = (("Single-source (`model/braintumor.keras`)", metrics["models"]["improved_cnn"].get("everywhere", {})),
              ("Two-source (`model/braintumor_two_source.keras`)", two["scores"]))
    lines = ["| Held-out set | Model | Scans | Threshold | Accuracy (95% CI) | Sensitivity (95% CI) | "
             "Specificity (95% CI) | ROC AUC (95% CI) |", "|---|---|---:|---:|---|---|---|---|"]
    for key, title in HELD_OUT_COLUMNS:
        for label, scores in models:
            entry = scores.get(key)
            if entry:
                size = f"{entry['n_pairs']} pairs" if "n_pairs" in entry else str(entry["n"])
                lines.append(f"| {title} | {label} | {size} | {entry['threshold']:.3f} | {_metric_cells(entry)} |")
    return "\n".join(lines)


def two_source_paragraph(metrics: dict, study: dict | None) -> str:
    """The second source, the study, both models side by side and which one `predict` uses."""
    two = metrics.get("two_source")
    if not two:
        return ("**A second training source.** Not used in this run: set `BRAIN_TUMOR_EXTRA` (see "
                "[Getting the data](#getting-the-data)) and rerun `make reproduce`.")
    default = metrics["default_model"]
    cues = two.get("trivial_cues_cv")
    text = [
        f"**A second training source.** Source A is this dataset (skull-stripped BraTS slices); source B the public "
        f"\"Brain Tumor MRI Dataset\" ({two['extra_counts']['images']} clinical slices with a skull, "
        f"{pct(two['extra_counts']['tumour_share'])} tumours, near-copies of the other sets removed; split "
        f"{two['extra_counts']['split']}, grouped by near-duplicates); C the outside scans (evaluation only). "
        f"The two-source model is the network of study row `{two['study_row']}`, trained on A's and B's train rows "
        f"with both classes weighing the same within each source; early stopping and its threshold "
        f"({two['threshold']:.3f}) come from A's and B's validation rows.",
    ]
    if cues:
        text.append(
            f"On the pooled scans, slice-level cues alone (which source, a skull-like rim, the dark frame, a rough "
            f"view cue, head size and brightness; random forest, grouped 5-fold) reach ROC AUC "
            f"{cues['summary']['roc_auc']['mean']:.3f} and accuracy {pct(cues['summary']['accuracy']['mean'])}: B's "
            f"tumour folders hold coronal and sagittal views, its healthy folder mostly axial ones, so a high figure "
            f"on B alone proves little.")
    text.append(f"\n\n{two_source_table(metrics)}\n")
    if study:
        text.append(f"\n**Leave-one-source-out study** (`scripts/source_study.py`, `model/source_study.json`). "
                    f"The rule that picks the shipped two-source row was committed before any row was scored on "
                    f"held-out data: {study.get('rule', '')[:1].lower() + study.get('rule', '')[1:]} Columns: ROC "
                    f"AUC on validation (what the rule read), then accuracy and ROC AUC on held-out data.\n\n"
                    f"{source_study_table(study)}\n")
    text.append(f"\n**Which model `predict` uses:** `{default['name']}`, by default. The rule: {default['rule']} "
                f"{default['reason']} `--model single-source` or `--model two-source` selects either, and "
                f"`--json` names the model used in each line.")
    return " ".join(text[:2]) + "".join(text[2:])


def two_source_trust(metrics: dict) -> str:
    """Where each model may be trusted, read from the figures."""
    two = metrics.get("two_source")
    if not two:
        return ""
    scores, single = two["scores"], metrics["models"]["improved_cnn"].get("everywhere", {})

    def auc(entry):
        return "n/a" if not entry else f"{entry['roc_auc']:.3f}"

    return (f"**Where each may be trusted.** Both hold on held-out scans of the sources they were trained on: A's "
            f"test rows (ROC AUC {auc(single.get('brain_tumor_test'))} single-source, "
            f"{auc(scores.get('brain_tumor_test'))} two-source) and, for the two-source model, B's held-out rows "
            f"({auc(scores.get('extra_test'))}; the single-source model scores {auc(single.get('extra_test'))} there). "
            f"Neither is shown to hold on a third source: on the outside scans ROC AUC "
            f"{auc(single.get('outside'))} single-source, {auc(scores.get('outside'))} two-source. Held-out scans of "
            f"a training source share its scanners, sequences and curation; they are not scans from elsewhere.")
