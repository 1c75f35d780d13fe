"""Error-analysis helpers, the templates' filters and the documents' paragraphs."""

import numpy as np
import pytest

from braintumor.reports import filters, render
from braintumor.reports.render import macro
from braintumor.evaluation.analysis import accuracy_by_near_duplicate, heat_share_on_brightest, heat_share_on_head, misclassified_table
from braintumor.evaluation.records import cv_recipe_rows, model_entry
from braintumor.models.networks import choose_resolution


def test_heat_share_on_head_is_one_inside_and_zero_outside():
    images = np.zeros((2, 240, 240), dtype=np.uint8)
    images[:, 60:180, 60:180] = 200  # the "head"
    heat = np.zeros((2, 240, 240))
    heat[0, 100:120, 100:120] = 1.0  # on the head
    heat[1, 0:20, 0:20] = 1.0  # on the background
    assert heat_share_on_head(images, heat).tolist() == [1.0, 0.0]


def test_heat_share_on_brightest_tenth():
    image = np.tile(np.linspace(30, 250, 240).astype(np.uint8), (240, 1))[None]
    even = np.ones((1, 240, 240))
    assert heat_share_on_brightest(image, even)[0] == pytest.approx(0.1, abs=0.02)
    bright_only = np.zeros((1, 240, 240))
    bright_only[0, :, -10:] = 1.0
    assert heat_share_on_brightest(image, bright_only)[0] == pytest.approx(1.0)


def test_accuracy_by_near_duplicate_splits_the_scans():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.1, 0.2, 0.8])  # right, missed, right, false alarm
    result = accuracy_by_near_duplicate(y, p, 0.5, [True, True, False, False])
    # Wilson 95% interval of 1 correct in 2, by the textbook formula:
    # centre 1/2, half-width z * sqrt(1/8 + z^2/16) / (1 + z^2/2) with z = 1.959964
    z = 1.959964
    half = z * np.sqrt(1 / 8 + z * z / 16) / (1 + z * z / 2)
    flagged = dict(result["with_near_duplicate"])
    assert flagged.pop("ci95") == pytest.approx([0.5 - half, 0.5 + half], abs=1e-6)
    assert flagged == {"n": 2, "correct": 1, "accuracy": 0.5, "missed_tumours": 1}
    assert result["without_near_duplicate"]["correct"] == 1 and result["without_near_duplicate"]["missed_tumours"] == 0


def test_misclassified_table_most_confident_errors_first():
    table = misclassified_table(["a", "b", "c", "d"], [1, 0, 1, 0], [0.35, 0.6, 0.05, 0.1], 0.5)
    assert [row["image"] for row in table] == ["c", "a", "b"]
    assert table[0]["error"] == "missed tumour" and table[2]["error"] == "false alarm"


def test_errors_by_confidence_orders_every_error_figure_and_can_show_both_kinds():
    from braintumor.evaluation.analysis import errors_by_confidence

    y_true = [1, 1, 1, 1, 0, 0, 1, 0]
    probability = [0.01, 0.2, 0.3, 0.9, 0.6, 0.99, 0.05, 0.1]
    assert errors_by_confidence(y_true, probability, 0.5).tolist() == [0, 5, 6, 1, 2, 4]
    # four missed tumours and two false alarms: a 4-panel gallery shows two of each, alternating
    assert errors_by_confidence(y_true, probability, 0.5, per_kind=2).tolist() == [0, 5, 6, 4]
    assert errors_by_confidence(y_true, probability, 0.5, per_kind=5).tolist() == [0, 5, 6, 4, 1, 2]
    assert errors_by_confidence([1, 1], [0.1, 0.2], 0.5, per_kind=3).tolist() == [0, 1]  # one kind only
    assert errors_by_confidence([1], [0.9], 0.5, per_kind=3).tolist() == []


def test_choose_resolution_respects_the_size_budget():
    rows = [{"resolution": 64, "val_accuracy": 0.95, "model_megabytes": 6},
            {"resolution": 128, "val_accuracy": 0.97, "model_megabytes": 30},
            {"resolution": 96, "val_accuracy": 0.95, "model_megabytes": 16}]
    assert choose_resolution(rows, max_megabytes=25)["resolution"] == 64
    with pytest.raises(ValueError):
        choose_resolution(rows, max_megabytes=1)


def _metrics():
    y = np.array([0] * 6 + [1] * 4)
    perfect = np.array([0.1] * 6 + [0.9] * 4)
    models = {
        "majority": model_entry("majority", y, np.full(10, 0.4), 0.5, 0, 0.0),
        "forest_csv_features": model_entry("csv", y, perfect, 0.5, None, 1.0, image_derived=False),
        "forest_image_features": model_entry("img", y, perfect, 0.5, None, 2.0),
        "improved_cnn": model_entry("cnn", y, perfect, 0.3, 1234, 60.0),
    }
    return {
        "models": models,
        "threshold": 0.3,
        "threshold_rule": "rule",
        "test": models["improved_cnn"],
        "split_counts": {"test": {"images": 10, "tumours": 4}},
        "seed_report": {"test_accuracy": 0.919, "missed_tumours": 41, "test_tumours": 334},
        "csv_feature_check": {"mean": {"spearman": 0.62}, "variance": {"spearman": 0.49},
                              "example": {"image": "Image3", "jpeg_mean": 43.9, "csv_mean": 7.3}},
    }


def test_results_table_has_a_row_per_model_and_the_seed_report():
    table = macro("results_table", _metrics())
    lines = table.splitlines()
    assert len(lines) == 2 + 4 + 1
    assert "⚠ not from these JPEGs" in table
    assert lines[2].startswith("| Majority") and lines[2].endswith("| 4 of 4 |")  # misses every tumour
    assert "91.9%" in lines[-1] and "41 of 334" in lines[-1]


def test_filters_format_a_share_an_interval_and_an_auc_once_for_every_document():
    entry = {"accuracy": 0.97609, "roc_auc": 0.99473, "ci95": {"accuracy": [0.9625, 0.9848], "roc_auc": [0.989, 0.9988]}}
    assert filters.pct(0.97609) == "97.6%" and filters.pct(1, 0) == "100%"
    with pytest.raises(filters.MissingFigure):  # a missing figure fails the render, never "n/a"
        filters.pct(float("nan"))
    assert filters.ci(entry, "accuracy") == "97.6% (96.2%–98.5%)"
    assert filters.ci(entry, "roc_auc", percent=False) == "0.995 (0.989–0.999)"
    assert filters.ci({"accuracy": 0.5}, "accuracy") == "50.0%"  # no interval recorded
    assert filters.auc_ci({"roc_auc": 0.99459, "roc_auc_ci95": [0.99150, 0.99714]}) == "0.9946 (0.9915–0.9971)"
    assert filters.mean_std({"mean": 0.97634, "std": 0.00826}) == "97.63% ± 0.83"
    assert filters.count(377106) == "377,106" and filters.count(None) == "—"
    assert filters.paragraph("  one\n  two   three\n") == "one two three"
    assert filters.figure(True) == "yes" and filters.figure([0.9, 64]) == "0.9000, 64" and filters.figure(20.0) == "20"
    assert render.environment().from_string("{{ x|pct }} {{ e|ci('accuracy') }}").render(x=0.5, e=entry) == \
        "50.0% 97.6% (96.2%–98.5%)"


def test_csv_feature_paragraph_quotes_the_measured_correlations():
    paragraph = macro("csv_feature_paragraph", _metrics())
    assert "0.62" in paragraph and "0.49" in paragraph and "43.9" in paragraph and "7.3" in paragraph


def test_shipped_vs_reference_says_which_is_higher():
    metrics = _metrics()
    metrics["models"]["reference_cnn"] = model_entry(
        "ref", np.array([0] * 6 + [1] * 4), np.array([0.1] * 6 + [0.9, 0.9, 0.9, 0.1]), 0.5, 12340, 5.0)
    sentence = macro("shipped_vs_reference", metrics)
    assert "accuracy is higher (100.0% vs 90.0%)" in sentence
    assert "4 vs 4" not in sentence and "0 vs 1 missed tumours" in sentence
    assert "10 times fewer parameters" in sentence


def test_architecture_summary_describes_the_head_and_blocks():
    from braintumor.models.networks import full_architecture
    architecture_summary = lambda architecture: macro("architecture_summary", architecture)

    gap = architecture_summary(full_architecture({"resolution": 128, "augment": False}))
    assert gap.startswith("4 conv-batch-norm-ReLU blocks (one convolution each; 16, 32, 64 and 128 filters)")
    assert "global average pooling" in gap and "augmentation" not in gap
    flatten = architecture_summary(full_architecture(
        {"widths": (8, 16, 32), "head": "flatten", "dense_units": (64,), "stem_stride": 2, "batch_norm": False}))
    assert "3 conv-ReLU blocks" in flatten
    assert "stride 2" in flatten
    assert "flattened into a 64-unit dense ReLU layer" in flatten
    assert "augmentation layers" in flatten
    with pytest.raises(ValueError, match="unknown build_improved_cnn arguments"):
        full_architecture({"depth": 50})


def test_gradcam_reading_follows_the_measured_shares():
    gradcam_reading = render.gradcam_reading

    base = {"head_fraction": 0.2, "misclassified_mean": 0.3, "misclassified_bright": 0.1}
    outside = gradcam_reading({**base, "correct_mean": 0.33, "correct_bright": 0.048}, map_width=8)
    assert "most of the heat falls outside the head" in outside
    assert "more heat than its area alone" in outside  # 0.33 >= 1.5 * 0.2
    assert "does not simply look for bright spots" in outside
    assert "8 cells wide" in outside
    inside = gradcam_reading({**base, "correct_mean": 0.8, "correct_bright": 0.25}, map_width=15)
    assert "most of the heat falls on the head" in inside and "leans on bright structures" in inside
    below = gradcam_reading({**base, "correct_mean": 0.46, "correct_bright": 0.056}, map_width=8)
    assert "less than an even spread would give" in below and "about what an even spread gives" not in below
    even = gradcam_reading({**base, "correct_mean": 0.25, "correct_bright": 0.1}, map_width=15)
    assert "area alone" not in even and "brightness alone does not steer it" in even


def _cv_run(candidate, start_from_epoch, epochs_run, accuracies):
    folds = [{"accuracy": a, "epochs_run": e} for a, e in zip(accuracies, epochs_run)]
    return {"file": f"model/cv_{candidate}.json",
            "setup": {"candidate": candidate,
                      "recipe": {"max_epochs": 30, "patience": 6, "start_from_epoch": start_from_epoch}},
            "models": {"improved_cnn": {"folds": folds, "summary": {
                "accuracy": {"mean": float(np.mean(accuracies)), "std": float(np.std(accuracies, ddof=1))},
                "roc_auc": {"mean": 0.99, "std": 0.01}}}}}


def test_cv_recipe_rows_find_the_earliest_restored_epoch():
    early, late = cv_recipe_rows([
        _cv_run("early", 8, [21, 30, 19], [0.97, 0.96, 0.90]),
        _cv_run("late", 20, [30, 28, 30], [0.97, 0.96, 0.95]),
    ])
    # Folds that ran all 30 epochs were not ended by early stopping and do not count.
    assert early["earliest restored epoch"] == 13 and late["earliest restored epoch"] == 22
    assert early["watches from epoch"] == 8 and late["epochs run by fold"] == [30, 28, 30]
    assert early["accuracy std"] > late["accuracy std"]
    none_stopped = cv_recipe_rows([_cv_run("full", 20, [30, 30], [0.9, 0.9])])[0]
    assert none_stopped["earliest restored epoch"] is None
    weighted = _cv_run("g1", 20, [30, 30], [0.9, 0.9])
    weighted["setup"]["weighting"] = "head_area_balanced"
    assert cv_recipe_rows([weighted])[0]["candidate"] == "g1 + head-area weights"


def test_near_duplicate_paragraph_counts_and_grammar():
    near = {"threshold": 1.0,
            "with_near_duplicate": {"n": 5, "correct": 5, "accuracy": 1.0},
            "without_near_duplicate": {"n": 20, "correct": 18, "accuracy": 0.9, "ci95": [0.7, 0.97]}}
    text = macro("near_duplicate_paragraph", near)
    assert "5 of the 25 test scans" in text and "at most 1 grey level on average" in text
    assert "right on 18 (90.0%" in text
    assert "2.5 grey levels" in macro("near_duplicate_paragraph", {**near, "threshold": 2.5})
