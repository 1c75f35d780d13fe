"""Markdown generated from the measured numbers: README sections, the error-analysis
report and the model card. Nothing here holds a result; it only formats what it is given,
so a report can never disagree with `model/metrics.json`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from .files import atomic_write

#: Row order and display names of the models table.
MODEL_ORDER = (
    ("majority", "Majority class (always 'no tumour')"),
    ("forest_csv_features", "Random forest on the CSV's 13 features ⚠ not from these JPEGs"),
    ("forest_image_features", "Random forest on features recomputed from the JPEGs"),
    ("reference_cnn", "Reference two-conv CNN (the seed architecture)"),
    ("improved_cnn", "Improved CNN (shipped: `model/braintumor.keras`)"),
)


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
    """The side-by-side table of every model on the same test rows, plus the seed's report."""
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
            f"| Seed notebook, as its author reported it (random split, duplicates on both sides) | — | — | 0.500 "
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
    for key, label in MODEL_ORDER:
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
        restored = [f["epochs_run"] - recipe["patience"] if f["epochs_run"] < recipe["max_epochs"] else None
                    for f in folds]
        rows.append({
            "candidate": cv["setup"]["candidate"],
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


def update_document(path: str | os.PathLike, sections: dict[str, str]) -> None:
    path = Path(path)
    updated = replace_sections(path.read_text(), sections)
    atomic_write(path, lambda tmp: tmp.write_text(updated))


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
        f"shows a region, not a lesion's outline."
    )


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


def cv_paragraph(cv: dict | None) -> str:
    if not cv:
        return "_Cross-validation results are not there yet: run `make cv`._"
    return (
        f"**Cross-validation** ({cv['folds']} stratified folds grouped by duplicate images, over the "
        f"{cv['n_images']} train and validation scans; the test rows are not used). Mean ± standard deviation "
        f"over folds, from `{cv['file']}`:\n\n" + cv_table(cv)
    )


def readme_results(metrics: dict, near: dict, cv: dict | None) -> str:
    test = metrics["test"]
    lines = [
        f"All models are scored on the same {test['n']} test scans of `data/splits.csv` "
        f"({metrics['split_counts']['test']['tumours']} with a tumour). The shipped model calls a scan 'tumour' when "
        f"its tumour probability is at least {metrics['threshold']:.3f}, a threshold chosen on the validation rows "
        f"({metrics['threshold_rule']}). 95% confidence intervals: Wilson for proportions, bootstrap over test scans "
        f"for ROC AUC. Training seconds were measured on the CPU that ran the notebook.",
        "",
        results_table(metrics),
        "",
        shipped_vs_reference(metrics),
        "",
        csv_feature_paragraph(metrics),
        "",
        "**The seed's numbers** come from a random split that puts copies of one scan on both sides; ours keep "
        "them apart, so the seed row is quoted, not recomputed.",
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
        f"The model in `{metrics['model_file']}` (improved CNN, {training['parameters']:,} parameters, input resized to "
        f"{training['resolution']}x{training['resolution']} inside the model) was reloaded from disk in safe mode and "
        f"run on the {test['n']} test scans of `data/splits.csv`, which played no part in training or in any choice. "
        f"It calls a scan 'tumour' at a tumour probability of at least {metrics['threshold']:.3f} "
        f"({metrics['threshold_rule']}). The recomputed figures equal those in `model/metrics.json`.",
        "",
        "## Test metrics",
        "",
        metric_rows(test),
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
        f"Grad-CAM weighs the last feature maps of the network by the gradient of the tumour score. Below: every "
        f"misclassified test scan ({heat['misclassified_n']}) and {heat['correct_n']} correctly classified ones.",
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
        "- One public dataset of axial slices with an unknown mix of scanners and sequences; behaviour on other "
        "data is untested.",
        "- Grad-CAM shows where the evidence sits at a coarse resolution; it is not a segmentation.",
    ]
    return "\n".join(lines)


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
        f"grey axial MRI slices shaped `(N, 240, 240, 1)` with values 0 to 255 (resizing to "
        f"{training['resolution']}x{training['resolution']} and rescaling are layers inside it) and returns `(N, 2)` "
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
        "## Performance on the test rows",
        "",
        metric_rows(test),
        "",
        near_duplicate_paragraph(ctx["near"]),
        "",
        cv_paragraph(ctx.get("cv")),
        "",
        "## Training",
        "",
        f"Adam{' with a cosine learning-rate schedule' if training['recipe'].get('cosine_decay') else ''}, L2 weight "
        f"decay, {'augmentation layers active only in training, ' if training['architecture'].get('augment', True) else ''}"
        f"early stopping on validation loss (watching from epoch {training['recipe'].get('start_from_epoch', 0)} on) "
        f"with the best weights restored: {training['epochs_run']} epochs run, best epoch {training['best_epoch']}, "
        f"{training['seconds']:.0f} s on the CPU that ran `model.ipynb`. Seed {training['seed']}. {versions}.",
        "",
        "## Known limits",
        "",
        "- One public dataset of axial slices; the scanners, sequences and patients behind it are not documented.",
        "- No patient identifiers: neighbouring slices of one patient may sit on both sides of the split, beyond "
        "the near-duplicates counted above, so the test figures may be optimistic for new patients.",
        "- Only 'tumour' vs 'no tumour': no tumour type, location or size.",
        "- Behaviour on other datasets, other orientations, other modalities or pre-processing is untested; the "
        "`predict` command will give a number for any picture, meaningful or not.",
        "",
        "## How to reproduce",
        "",
        "`make reproduce` with `BRAIN_TUMOR_DATA` pointing at the unpacked Kaggle archive: it validates the raw "
        "data, retrains every model and regenerates this card, `erroranalysis.md` and the README's results.",
    ])
