"""Run modes (output folder, training schedule), the metrics.json builder, and the documents'
paragraphs (template macros, `render.macro`) that tell the shortcut, the outside scans, the
threshold and what a run costs."""

import json

import numpy as np
import pytest

from braintumor import config
from braintumor.reports import disclosure
from braintumor.reports import render
from braintumor.reports.render import macro
from braintumor.evaluation.records import (build_metrics, cv_complete, everywhere_rows, fit_summary, model_entry,
                                           source_study_rows)
from braintumor.models.networks import TrainResult
from braintumor.models.recipes import CHECK_SCHEDULE, RECIPES, scheduled

Y = np.array([0] * 6 + [1] * 4)
PERFECT = np.array([0.1] * 6 + [0.9] * 4)
ONE_MISS = np.array([0.1] * 6 + [0.9, 0.9, 0.9, 0.2])


# ---------------------------------------------------------------------------- run modes

def test_output_root_defaults_to_the_repository_and_follows_the_variable(monkeypatch):
    monkeypatch.delenv(config.OUTPUT_ENV_VAR, raising=False)
    assert str(config.output_root()) == "."
    monkeypatch.setenv(config.OUTPUT_ENV_VAR, "build/check")
    assert (config.output_root() / config.METRICS_PATH).as_posix() == "build/check/model/metrics.json"


def test_schedule_defaults_to_full_and_refuses_a_typo(monkeypatch):
    monkeypatch.delenv(config.SCHEDULE_ENV_VAR, raising=False)
    assert config.schedule() == "full"
    monkeypatch.setenv(config.SCHEDULE_ENV_VAR, "check")
    assert config.schedule() == "check"
    monkeypatch.setenv(config.SCHEDULE_ENV_VAR, "quick")
    with pytest.raises(ValueError, match="BRAIN_TUMOR_SCHEDULE='quick'"):
        config.schedule()


def test_check_schedule_shortens_training_and_changes_nothing_else():
    full = scheduled(RECIPES["improved"], "improved", "full")
    check = scheduled(RECIPES["improved"], "improved", "check")
    assert full == RECIPES["improved"] and full is not RECIPES["improved"]
    assert check["max_epochs"] < full["max_epochs"]
    assert check["start_from_epoch"] < check["max_epochs"]  # early stopping can still act
    changed = {key for key in full if full[key] != check[key]}
    assert changed <= set(CHECK_SCHEDULE["improved"])  # same optimiser, batch size, schedule shape
    assert scheduled(RECIPES["reference"], "reference", "check")["max_epochs"] <= RECIPES["reference"]["max_epochs"]
    with pytest.raises(ValueError, match="unknown schedule"):
        scheduled(RECIPES["improved"], "improved", "fast")


def test_committed_metrics_come_from_the_full_schedule():
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    assert metrics["schedule"] == "full"
    assert metrics["training"]["recipe"]["max_epochs"] == RECIPES["improved"]["max_epochs"]
    assert metrics["training"]["machine"]["cpu"]


# ---------------------------------------------------------------------------- metrics.json

def _models():
    models = {
        "majority": model_entry("majority", Y, np.full(10, 0.4), 0.5, 0, 0.0),
        "trivial_cues": model_entry("cues", Y, ONE_MISS, 0.5, None, 0.1),
        "reference_cnn": model_entry("ref", Y, ONE_MISS, 0.5, 99, 5.0),
        "improved_cnn": model_entry("cnn", Y, PERFECT, 0.3, 1234, 60.0),
    }
    for entry in models.values():
        entry["head_matched"] = {**model_entry("m", Y[2:], entry_probability(entry)[2:], entry["threshold"], None, 0),
                                 "n_pairs": 4}
    models["trivial_cues"]["cross_validation"] = {"summary": {"accuracy": {"mean": 0.86, "std": 0.01}}}
    return models


def entry_probability(entry):
    return PERFECT if entry["accuracy"] == 1.0 else ONE_MISS


def _metrics(outside=True, validation_sensitivity=1.0):
    models = _models()
    if outside:
        models["improved_cnn"]["outside"] = model_entry("out", Y, np.full(10, 0.9), 0.3, None, 0)
    fit = TrainResult(history={}, epochs_run=30, best_epoch=25, seconds=540.04, seconds_per_epoch=18.0)
    return build_metrics(
        models=models, threshold=0.3, threshold_rule="rule text", validation={"sensitivity": validation_sensitivity},
        model_file="model/single-source/model.keras",
        training={"resolution": 128, "recipe": {}, **fit_summary(fit, machine={"cpu": "AMD EPYC", "usable_cores": 2})},
        reference_training=fit_summary(fit), split_counts={"test": {"images": 10, "tumours": 4}}, schedule="full",
        head_matching={"rule": "PAIRS RULE", "pairs": 4},
    )


def test_build_metrics_keeps_the_interface_and_records_the_schedule():
    metrics = _metrics()
    for key in ("model", "model_file", "threshold", "threshold_rule", "test", "validation", "training", "models",
                "seed_report", "split_counts", "schedule", "head_matching"):
        assert key in metrics
    assert metrics["test"]["accuracy"] == 1.0 and metrics["test"]["confusion"] == {"tn": 6, "fp": 0, "fn": 0, "tp": 4}
    assert metrics["training"]["seconds"] == 540.0 and metrics["training"]["epochs_run"] == 30
    with pytest.raises(ValueError, match="improved_cnn"):
        build_metrics(models={}, threshold=0.5, threshold_rule="", validation={}, model_file="", training={},
                      reference_training={}, split_counts={}, schedule="full")


# ---------------------------------------------------------------------------- report sections

def test_matched_paragraph_names_the_rule_and_every_model():
    text = macro("matched_paragraph", _metrics())
    assert "PAIRS RULE" in text and "4 head-size-matched test pairs" in text
    assert text.count("\n| ") == 2 + 4 - 1  # header, rule line, one row per model
    assert "86.0% ± 1.0" in text


def test_outside_paragraph_with_and_without_scores():
    text = macro("outside_paragraph", _metrics(), "LOOKS")
    assert "LOOKS" in text and "calling every scan 'tumour' would score 40.0%" in text
    assert "specificity 0.0%" in text
    assert "Not scored in this run" in macro("outside_paragraph", _metrics(outside=False), "LOOKS")


def test_threshold_paragraph_says_when_test_sensitivity_falls_below_the_floor():
    cv = {"folds": 2, "models": {"improved_cnn": {"folds": [{"threshold": 0.024}, {"threshold": 0.38}],
                                                   "summary": {"n": 2}}}}
    metrics = _metrics(validation_sensitivity=0.98)
    metrics["test"]["sensitivity"] = 0.961
    text = macro("threshold_paragraph", metrics, cv)
    assert "below the rule's floor" in text and "from 0.024 to 0.380" in text
    metrics["test"]["sensitivity"] = 0.99
    assert "below" not in macro("threshold_paragraph", metrics, None)


def test_headline_puts_cross_validation_first_and_counts_the_test_looks():
    cv = {"folds": 5, "n_images": 3009, "setup": {}, "models": {"improved_cnn": {"folds": [{}] * 5, "summary": {
        key: {"mean": 0.9658, "std": 0.0104} for key in ("accuracy", "sensitivity", "specificity", "roc_auc")}}}}
    metrics = _metrics()
    text = macro("headline_table", metrics, cv)
    assert text.index("Cross-validated") < text.index("Test rows") < text.index("Outside scans")
    assert f"(looked at {len(disclosure.TEST_ROW_LOOKS)} times)" in text and "96.6% ± 1.0" in text


def test_run_statement_marks_a_check_run():
    metrics = _metrics()
    assert "full training schedule" in macro("run_statement", metrics) and "AMD EPYC" in macro("run_statement", metrics)
    metrics["schedule"] = "check"
    assert "SHORTENED" in macro("run_statement", metrics)


def test_tertile_table_rows():
    rows = [{**model_entry("t", Y, PERFECT, 0.5, None, 0), "head_area_range": [0.05, 0.12], "tumours": 4}]
    table = macro("tertile_table", rows)
    assert "| 5.0%–12.0% | 10 | 4 | 100.0%" in table


def test_costs_section_lists_each_cpu():
    costs = {"entries": [{"command": "make test", "cpu": "AMD EPYC", "cores": 2, "minutes": 6.5, "date": "2026-12-04", "note": "fresh clone"},
                         {"command": "make test", "cpu": "Intel Xeon", "cores": 2, "minutes": 20.0, "date": "2026-12-03", "note": "x"}]}
    text = macro("costs_section", costs)
    assert "| `make test` | AMD EPYC | 2 | 6.5 | 2026-12-04 | fresh clone |" in text and "Intel Xeon" in text
    assert "Not measured" in macro("costs_section", None)


def test_write_documents_writes_every_document_under_the_output_root(tmp_path):
    metrics, records, analysis = _context()
    written = render.write_documents(metrics, records, analysis, out=tmp_path / "check")
    assert sorted(path.relative_to(tmp_path / "check").as_posix() for path in written) == sorted(render.DOCUMENTS)
    assert all(path.read_text().endswith("\n") and not path.read_text().endswith("\n\n") for path in written)
    assert not list((tmp_path / "check").rglob(".*"))  # atomic writes leave no temporary file


# ---------------------------------------------------------------------------- the documents, whole

def _context(outside=True):
    metrics = _metrics(outside=outside)
    metrics["models"]["forest_csv_features"] = model_entry("csv", Y, PERFECT, 0.5, None, 1.0, image_derived=False)
    metrics["models"]["forest_csv_features"]["head_matched"] = metrics["models"]["majority"]["head_matched"]
    metrics["models"]["forest_image_features"] = metrics["models"]["forest_csv_features"]
    metrics["csv_feature_check"] = {"mean": {"spearman": 0.62}, "variance": {"spearman": 0.49}}
    metrics["training"].update(parameters=1234, architecture={
        "resolution": 128, "preprocess": "head_crop", "widths": [16, 32], "convs_per_block": 1, "batch_norm": True, "stem_stride": 1, "head": "flatten",
        "dense_units": [64], "dropout": 0.3, "augment": False}, seed=42, versions={"keras": "3"})
    metrics["input_check"] = {"description": "RULE DESCRIPTION."}
    from braintumor.studies import loso

    metrics["default_model"] = loso.default_model_entry(None)  # model.ipynb always records one
    metrics["split_counts"] = {name: {"images": 10, "tumours": 4} for name in ("train", "val", "test")}
    metrics["training"]["recipe"] = {"cosine_decay": True, "start_from_epoch": 20}
    near = {"threshold": 1.0, "with_near_duplicate": {"n": 2, "correct": 2, "accuracy": 1.0},
            "without_near_duplicate": {"n": 8, "correct": 8, "accuracy": 1.0, "ci95": [0.6, 1.0]}}
    heat = {"head_fraction": 0.2, "correct_mean": 0.36, "misclassified_mean": 0.27, "correct_bright": 0.05,
            "misclassified_bright": 0.04, "correct_n": 10, "misclassified_n": 0}
    tertiles = [{**model_entry("t", Y, PERFECT, 0.3, None, 0), "head_area_range": [0.01, 0.2], "tumours": 4}]
    metrics["models"]["improved_cnn"]["head_area_tertiles"] = tertiles
    analysis = {"misclassified": [], "heat": heat, "map_width": 8, "near": near, "outside_scored": outside,
                "input_check": {"test": 0.03, **({"outside": 1.0} if outside else {})}}
    return metrics, {"cv": None, "cv_all": None, "study": None, "benchmark": None, "costs": None}, analysis


@pytest.mark.parametrize("outside", [True, False])
def test_error_analysis_and_model_card_carry_every_section(outside):
    documents = render.render_documents(*_context(outside))
    analysis, card = documents["erroranalysis.md"], documents["MODEL_CARD.md"]
    assert analysis.startswith("<!-- Generated from braintumor/reports/templates/erroranalysis.md.j2")
    assert card.startswith("---\nlicense:") and "\nlibrary_name: keras\n" in card  # Hugging Face metadata first
    for text in (analysis, card):
        assert "PAIRS RULE" in text and "RULE DESCRIPTION." in text and "3.0% of this dataset's test rows" in text
        assert ("100.0% of the outside scans" in text) == outside
        assert ("Not scored in this run" in text) == (not outside)
    assert "## Tumour or slice level?" in analysis and "| 1.0%–20.0% | 10 | 4 |" in analysis
    assert disclosure.TEST_ROW_HISTORY in analysis and "No test scan is misclassified." in analysis
    assert ("img/outside_misclassified.png" in analysis) == outside
    assert "full training schedule" in card and "not a medical device" in card


def test_the_readme_leads_with_the_results_and_the_two_commands_and_links_the_details():
    readme = render.render_documents(*_context())["README.md"]
    # the quick start (with the two commands) first, then the names, then the results table
    assert readme.index("make reproduce") < readme.index("## Sets and models") < readme.index("## Results")
    assert readme.index("## Results") < readme.index("| **Test rows, a confirmation**") < readme.index("## Requirements")
    for link in ("erroranalysis.md", "MODEL_CARD.md", "docs/decisions.md", "model/README.md"):
        assert f"]({link})" in readme
    assert "Trivial slice-level cues" not in readme  # the models table lives in the error analysis


def test_an_unfinished_cross_validation_is_not_reported_as_a_result():
    partial = {"folds": 5, "n_images": 3009, "file": "model/cv_results.json",
               "models": {"improved_cnn": {"folds": [{"threshold": 0.1}], "summary": None}}}
    # cross_validate.py writes a summary from the second fold on: two of five is still unfinished
    two_of_five = {**partial, "models": {"improved_cnn": {"folds": [{"threshold": 0.1}] * 2, "summary": {"n": 2}}}}
    assert not cv_complete(two_of_five)
    assert not cv_complete(partial) and not cv_complete(None)
    assert "not complete yet" in macro("cv_paragraph", partial)
    assert "Cross-validated estimate" not in macro("headline_table", _metrics(), partial)
    assert "In cross-validation" not in macro("threshold_paragraph", _metrics(), partial)


def test_preprocessing_summary_names_the_head_crop():
    assert "cropped to a square around its head" in macro("preprocessing_summary", {"resolution": 128, "preprocess": "head_crop"})
    assert macro("preprocessing_summary", {"resolution": 64}) == "each scan resized to 64x64 and scaled to 0..1"


def test_outside_limit_follows_the_figures():
    assert "calls most healthy brains 'tumour'" in macro("outside_limit", {"specificity": 0.26, "roc_auc": 0.68})
    assert "tells tumour from healthy scans poorly (ROC AUC 0.64" in macro("outside_limit", 
        {"specificity": 0.79, "roc_auc": 0.637, "sensitivity": 0.47})
    assert "lower (ROC AUC 0.93)" in macro("outside_limit", {"specificity": 0.9, "roc_auc": 0.93, "sensitivity": 0.9})
    assert "not been scored" in macro("outside_limit", None)


def test_the_costs_section_lists_each_run_and_extrapolates_none():
    entries = [{"command": "ci", "cpu": "AMD EPYC", "cores": 2, "minutes": 12.0, "date": "2026-12-02", "note": ""},
               {"command": "ci", "cpu": "Intel Xeon", "cores": 2, "minutes": 48.0, "date": "2026-12-03", "note": ""}]
    text = macro("costs_section", {"entries": entries})
    assert "| `ci` | Intel Xeon | 2 | 48.0 |" in text and "no speed comparison" in text and "estimate" not in text


def _everywhere(labels, probability, threshold=0.4):
    from braintumor.evaluation.metrics import binary_metrics

    entry = binary_metrics(labels, probability, threshold)
    return {"brain_tumor_test": entry, "brain_tumor_matched_test": {**entry, "n_pairs": 100},
            "extra_test": entry, "outside": entry}


def _study():
    def row(name, sources, held_out_auc):
        figures = {"roc_auc": 0.99, "accuracy": 0.97, "sensitivity": 0.95, "specificity": 0.9}
        return {"name": name, "sources": sources, "architecture": {"preprocess": "head_crop", "skull_rim": 0.5},
                "validation": {"brain_tumor": figures, "brain_tumor_matched": figures, "extra": figures},
                "held_out": {key: {**figures, "roc_auc": held_out_auc} for key in
                             ("brain_tumor_test", "brain_tumor_matched_test", "extra_test", "outside")}}
    return {"rows": [row("a1", ["brain-tumor"], 0.61), row("ab1", ["brain-tumor", "extra"], 0.72)],
            "picked": "ab1", "rule": "the worst validation AUC"}


def test_source_study_table_marks_the_pick_and_shows_every_column():
    table = macro("source_study_table", _study())
    assert "| **ab1** (picked) | A + B | head crop, skull-like rim on 50% of training scans |" in table
    assert "| a1 | A |" in table and "0.720" in table and "0.610" in table
    rows = source_study_rows(_study())
    assert rows[1]["row"] == "ab1 (picked)" and rows[1]["C AUC"] == 0.72
    unscored = {"rows": [{k: v for k, v in r.items() if k != "held_out"} for r in _study()["rows"]]}
    assert "C outside" not in macro("source_study_table", unscored)


def test_two_source_paragraph_says_it_is_a_study_record_and_shows_its_row():
    rng = np.random.default_rng(2)
    labels = (rng.random(300) < 0.5).astype(int)
    scores = _everywhere(labels, np.clip(labels * 0.8 + rng.normal(0.1, 0.1, 300), 0, 1))
    metrics = {"models": {"improved_cnn": {"everywhere": scores}},
               "two_source": {"scores": scores, "threshold": 0.4, "study_row": "ab1",
                              "extra_counts": {"images": 2894, "tumour_share": 0.865, "split": "train 1852"}},
               "default_model": {"name": "single-source", "rule": "Rule.", "reason": "Not met."}}
    text = macro("two_source_paragraph", metrics, _study())
    assert "This model is a study record: `predict` does not offer it by name" in text
    assert "study row `ab1`" in text and "| **ab1** (picked) |" in text
    assert text.count("| A: test rows |") == 2  # both models, side by side
    assert "Not used in this run" in macro("two_source_paragraph", {"models": {}}, None)
    assert everywhere_rows(scores, None)[0]["model"] == "single-source"
    assert len(everywhere_rows(scores, scores)) == 8


# ---------------------------------------------------------------------------- matched pairs in cross-validation

def _cv_record(pool_scans, plain_auc, mirror_auc, complete=True, weighting=None, accuracy=0.978, ensemble=None):
    """A cross-validation record; `ensemble` = (matched-pair AUC, fold accuracy) adds a 2-seed mean."""
    variant = lambda auc, fold_accuracy=accuracy: {
        "n_pairs": 700, "roc_auc": auc, "roc_auc_ci95": [auc - 0.004, min(auc + 0.003, 1.0)],
        "fold_accuracy_mean": fold_accuracy, "fold_matched_accuracy_mean": 0.96, "fold_matched_roc_auc_mean": auc}
    summary = lambda mean: {key: {"mean": mean, "std": 0.0075} for key in ("accuracy", "sensitivity", "specificity",
                                                                          "roc_auc")}
    record = {"file": f"model/cv_{pool_scans}.json", "n_images": pool_scans,
              "setup": {"candidate": "g1", **({"weighting": weighting} if weighting else {}),
                        **({"members": 2} if ensemble else {})},
              "folds": 5, "models": {"improved_cnn": {"folds": [{"threshold": 0.3}] * 5, "summary": summary(0.9787)}}}
    if ensemble:
        record["models"]["improved_cnn_seed_ensemble"] = {"folds": [{"threshold": 0.6}] * 5,
                                                          "summary": summary(ensemble[1])}
    if complete:  # cross_validate.py writes matched_pairs only once every fold is done
        record["matched_pairs"] = {"pairing_rule": "PAIRS RULE", "plain": variant(plain_auc),
                                   "flip_average": variant(mirror_auc),
                                   **({"seed_ensemble": variant(*ensemble)} if ensemble else {})}
    return record


def test_cross_validated_matched_keeps_complete_runs_and_decides_on_train_val_records_only():
    from braintumor.evaluation.records import cross_validated_matched

    summary = cross_validated_matched({"train_val": _cv_record(3009, 0.993, 0.991),
                                       "all_scans": _cv_record(3762, 0.990, 0.999)})
    assert summary["train_val"]["plain"]["roc_auc"] == 0.993 and summary["all_scans"]["n_scans"] == 3762
    assert summary["decisions"]["mirror_average"]["ships"] is False  # the all-scans pool's gain does not count
    assert "head_area_weighting" not in summary["decisions"]
    assert cross_validated_matched({"train_val": _cv_record(3009, 0.990, 0.995)})["decisions"]["mirror_average"]["ships"]
    runs = {"train_val": _cv_record(3009, 0.993, 0.98, weighting="head_area_balanced", accuracy=0.975),
            "train_val_unweighted": _cv_record(3009, 0.990, 0.98)}
    decision = cross_validated_matched(runs)["decisions"]["head_area_weighting"]
    assert decision["ships"] is True and decision["weighted"] == "train_val"
    runs["train_val"] = _cv_record(3009, 0.993, 0.98, weighting="head_area_balanced", accuracy=0.97)
    assert cross_validated_matched(runs)["decisions"]["head_area_weighting"]["ships"] is False  # lost accuracy
    unfinished = cross_validated_matched({"train_val": _cv_record(3009, 0.99, 0.99, complete=False), "all_scans": None})
    assert unfinished == {}


def test_matched_and_headline_text_quote_the_cross_validated_pairs():
    from braintumor.evaluation.records import cross_validated_matched

    metrics = _metrics()
    assert "Grouped cross-validation measures" not in macro("matched_paragraph", metrics)
    runs = {"train_val": _cv_record(3009, 0.993, 0.991), "all_scans": _cv_record(3762, 0.990, 0.999)}
    metrics["head_matching"]["cross_validation"] = cross_validated_matched(runs)
    text = macro("matched_paragraph", metrics)
    assert "over all 3762 scans, ROC AUC 0.9900 (0.9860–0.9930) on 700 pairs" in text
    assert "over the 3009 train and validation scans, ROC AUC 0.9930" in text
    assert "scores 0.9910 on the train and validation pairs against 0.9930 without, and is therefore not shipped" in text
    assert "Weighing the training scans" not in text
    headline = macro("headline_table", metrics, runs["all_scans"])
    assert "| 0.9900 (0.9860–0.9930), 700 pairs |" in headline
    assert "| 0.979 | — |" in macro("headline_table", metrics, _cv_record(3762, 0.99, 0.99, complete=False))
    runs["train_val_unweighted"] = runs["train_val"]
    runs["train_val"] = _cv_record(3009, 0.996, 0.99, weighting="head_area_balanced", accuracy=0.976)
    metrics["head_matching"]["cross_validation"] = cross_validated_matched(runs)
    text = macro("matched_paragraph", metrics)
    assert ("Weighing the training scans so that head size does not predict the label (both classes weigh the same "
            "within each fifth of the training scans by head area) scores 0.9960 (0.9920–0.9990) on the train and "
            "validation pairs against 0.9930 (0.9890–0.9960) without, fold accuracy 97.60% against 97.80%, and is "
            "therefore shipped") in text


def test_the_seed_ensemble_is_decided_on_its_train_val_record_and_quoted_where_it_ships(monkeypatch):
    from braintumor.models import recipes as training_recipes
    from braintumor.evaluation.records import cross_validated_matched

    runs = {"train_val": _cv_record(3009, 0.9946, 0.99, weighting="head_area_balanced", accuracy=0.9764),
            "all_scans": _cv_record(3762, 0.9935, 0.99, weighting="head_area_balanced", accuracy=0.9763),
            "train_val_seed_ensemble": _cv_record(3009, 0.9946, 0.99, weighting="head_area_balanced",
                                                  accuracy=0.9764, ensemble=(0.9961, 0.9770))}
    matched = cross_validated_matched(runs)
    decision = matched["decisions"]["seed_ensemble"]
    assert decision["ships"] is True and decision["record"] == "train_val_seed_ensemble" and decision["members"] == 2
    assert matched["train_val_seed_ensemble"]["seed_ensemble"]["roc_auc"] == 0.9961
    metrics = _metrics()
    metrics["head_matching"]["cross_validation"] = matched
    assert ("The mean of 2 networks trained alike from different seeds scores 0.9961 (0.9921–0.9991) on the train "
            "and validation pairs against 0.9946 (0.9906–0.9976) for the first alone, fold accuracy 97.70% against 97.64%, "
            "and is therefore shipped") in macro("matched_paragraph", metrics)
    # Nothing changes in what the reports quote until the shipped model is the ensemble ...
    assert matched["train_val_seed_ensemble"]["shipped"] == "plain"
    ensemble_all = _cv_record(3762, 0.9935, 0.99, accuracy=0.9763, ensemble=(0.9950, 0.9810))
    assert "98.1% ± 0.8" not in macro("headline_table", metrics, ensemble_all)
    # ... and then the headline, the CV table and the threshold range read the ensemble's entry.
    monkeypatch.setattr(training_recipes, "SHIPPED_MEMBERS", 2)
    headline = macro("headline_table", metrics, ensemble_all)
    assert "| 98.1% ± 0.8 |" in headline and "| 0.9950 (0.9910–0.9980), 700 pairs |" in headline
    assert "mean of 2 networks" in macro("cv_table", ensemble_all) and "98.10% ± 0.75" in macro("cv_table", ensemble_all)
    assert "thresholds from 0.600 to 0.600" in macro("threshold_paragraph", metrics, ensemble_all)
    # A record without the ensemble (the unweighted comparison) is still read as a single network.
    assert training_recipes.shipped_cv_variant(runs["train_val"]) == "plain"
    runs["train_val_seed_ensemble"] = _cv_record(3009, 0.9946, 0.99, accuracy=0.9764, ensemble=(0.9950, 0.9770))
    assert cross_validated_matched(runs)["decisions"]["seed_ensemble"]["ships"] is False  # gain below the rule's


def test_a_seed_ensembles_training_summary_keeps_each_member_and_the_total_time():
    from braintumor.evaluation.records import ensemble_fit_summary

    fits = [TrainResult(history={}, epochs_run=30, best_epoch=25, seconds=500.0, seconds_per_epoch=16.7,
                        config={"seed": config.SEED}),
            TrainResult(history={}, epochs_run=28, best_epoch=22, seconds=460.0, seconds_per_epoch=16.4,
                        config={"seed": config.SEED + 1})]
    single = ensemble_fit_summary(fits[:1], seed=config.SEED)
    assert single == fit_summary(fits[0], seed=config.SEED) and "members" not in single
    assert macro("epochs_and_seeds", single) == f"30 epochs run, best epoch 25, seed {config.SEED}"
    both = ensemble_fit_summary(fits, seed=config.SEED)
    assert both["seconds"] == 960.0 and both["epochs_run"] == 30
    assert [member["seed"] for member in both["members"]] == [config.SEED, config.SEED + 1]
    assert macro("epochs_and_seeds", both) == (f"2 networks averaged, from seeds {config.SEED}, {config.SEED + 1} "
                                             "(epochs run 30, 28; best epochs 25, 22)")


# ---------------------------------------------------------------------------- the notebook runner's progress

def test_notebook_runner_estimates_from_the_previous_runs_cell_times():
    import nbformat

    from braintumor import notebook_runner as runner

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t")] + [nbformat.v4.new_code_cell("1") for _ in range(3)]
    assert runner.previous_times(nb) is None  # never executed: no times recorded
    for cell, (busy, idle) in zip(nb.cells[1:], [("00:00", "00:10"), ("00:10", "01:10"), ("01:10", "01:40")]):
        cell.metadata["execution"] = {"iopub.status.busy": f"2026-01-01T00:{busy}.000Z",
                                      "iopub.status.idle": f"2026-01-01T00:{idle}.000Z"}
    previous = runner.previous_times(nb)
    assert previous == [10.0, 60.0, 30.0]
    # twice as slow as last time on the first cell: the rest is expected twice as slow too
    assert runner.estimate_left(1, 20.0, 3, previous) == 180.0
    assert runner.estimate_left(1, 20.0, 3, None) == 40.0  # no history: the mean so far
    assert runner.estimate_left(0, 0.0, 3, None) is None
    assert runner.progress_line("model.ipynb", 11, 43, 200.0, 310.0) == "[model.ipynb 12/43] 3m20s elapsed, ~5m10s left"
    assert runner.duration(3725) == "1h02m"
