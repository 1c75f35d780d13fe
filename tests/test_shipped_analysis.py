"""The error analysis of each model that ships (`evaluation.shipped`): where each model's file and
threshold come from, scoring a set, both kinds of error, the Grad-CAM sample, what
error_analysis.json keeps, and the new figures (`reports.plots.confusion_matrices`, `roc_curves`)."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from braintumor import config  # noqa: E402
from braintumor.data.dataset import DataError  # noqa: E402
from braintumor.evaluation import shipped  # noqa: E402
from braintumor.models import configs  # noqa: E402
from braintumor.reports import plots  # noqa: E402

LABELS = np.array([1, 1, 1, 0, 0, 0, 1, 0])
#                        missed (0.02), missed (0.40); false alarms (0.97), (0.60)
PROBABILITY = np.array([0.9, 0.02, 0.40, 0.97, 0.1, 0.60, 0.8, 0.2])
THRESHOLD = 0.5


def test_a_model_file_lies_in_its_folder_under_the_output_root(tmp_path):
    assert shipped.model_file("new-scans", tmp_path) == tmp_path / "model" / "new-scans" / configs.KERAS_FILE
    assert shipped.card_file("reference", tmp_path) == tmp_path / "model" / "reference" / configs.CARD_FILE
    # the notebooks' single-source path, per folder
    assert shipped.model_file("single-source", ".") == config.MODEL_PATH


def _card(tmp_path, name, body):
    path = shipped.card_file(name, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(body))


def test_the_threshold_is_the_cards_unless_the_config_fixes_it(tmp_path):
    _card(tmp_path, "new-scans", {"threshold": 0.6743})
    assert shipped.threshold_of("new-scans", tmp_path) == (0.6743, "pooled_threshold")
    # the reference CNN's config.toml says "fixed 0.5": no card is read
    assert shipped.threshold_of("reference", tmp_path) == (0.5, "fixed 0.5")


def test_a_missing_or_broken_card_is_an_error_not_a_silent_half(tmp_path):
    with pytest.raises(FileNotFoundError, match="no card for model 'new-scans'"):
        shipped.threshold_of("new-scans", tmp_path)
    _card(tmp_path, "new-scans", {"threshold": 1.5})
    with pytest.raises(ValueError, match="no threshold in 0..1"):
        shipped.threshold_of("new-scans", tmp_path)


def test_the_fixed_rule_is_read_only_from_a_fixed_number():
    assert shipped._fixed("fixed 0.5") == 0.5
    assert shipped._fixed("pooled_threshold") is None and shipped._fixed("fixed half") is None


def test_no_preprocessing_leaves_the_scans_as_they_are():
    images = np.zeros((2, 240, 240, 1), np.uint8)
    assert shipped.preprocessing_of("new-scans") in ("none", "classical-v1")
    assert shipped.prepared(images, "none") is images


def _fake_predict(probability):
    return lambda model, images: probability[:len(images)]


def test_score_set_scores_at_the_threshold_given():
    images = np.zeros((len(LABELS), 4, 4, 1))
    scored = shipped.score_set(None, "lgg_test", images, LABELS, np.arange(len(LABELS)).astype(str), THRESHOLD,
                               predict=_fake_predict(PROBABILITY), with_ci=False)
    assert scored.title == "LGG test rows"
    assert scored.metrics["confusion"] == {"tn": 2, "fp": 2, "fn": 2, "tp": 2}
    assert scored.wrong.tolist() == [False, True, True, True, False, True, False, False]
    stricter = shipped.score_set(None, "lgg_test", images, LABELS, np.arange(8).astype(str), 0.98,
                                 predict=_fake_predict(PROBABILITY), with_ci=False)
    assert stricter.metrics["confusion"]["tp"] == 0 and stricter.metrics["confusion"]["fp"] == 0


def test_score_set_refuses_sets_whose_parts_differ_in_number():
    with pytest.raises(ValueError, match="differ in number"):
        shipped.score_set(None, "outside", np.zeros((3, 4, 4, 1)), [0, 1], ["a", "b", "c"], 0.5,
                          predict=_fake_predict(PROBABILITY))


def test_error_kinds_are_split_and_ordered_most_confident_first():
    kinds = shipped.error_kinds(LABELS, PROBABILITY, THRESHOLD)
    assert kinds["missed tumour"].tolist() == [1, 2]  # p 0.02 is farther from 1 than 0.40
    assert kinds["false alarm"].tolist() == [3, 5]  # p 0.97 before 0.60
    assert {k: v.tolist() for k, v in shipped.error_kinds(LABELS, PROBABILITY, THRESHOLD, per_kind=1).items()} == {
        "missed tumour": [1], "false alarm": [3]}
    none = shipped.error_kinds([0, 1], [0.1, 0.9], THRESHOLD)
    assert len(none["missed tumour"]) == len(none["false alarm"]) == 0


def test_the_heat_sample_takes_at_most_so_many_of_each_group_and_is_seeded():
    labels = np.array([1] * 50 + [0] * 50)
    probability = np.where(np.arange(100) % 10 == 0, 1 - labels, labels).astype(float)  # 10 errors
    sample = shipped.heat_sample(labels, probability, THRESHOLD, per_group=4, seed=1)
    wrong = (probability >= THRESHOLD).astype(int) != labels
    assert len(sample) == 8 and wrong[sample].sum() == 4 and np.all(np.diff(sample) > 0)
    assert np.array_equal(sample, shipped.heat_sample(labels, probability, THRESHOLD, per_group=4, seed=1))
    everything = shipped.heat_sample(labels, probability, THRESHOLD, per_group=1000)
    assert everything.tolist() == list(range(100))


def test_the_summary_counts_each_kind_of_error_and_keeps_the_figures_files():
    scored = shipped.score_set(None, "outside", np.zeros((8, 4, 4, 1)), LABELS, np.arange(8).astype(str), THRESHOLD,
                               predict=_fake_predict(PROBABILITY), with_ci=False)
    files = shipped.figure_files("outside")
    summary = shipped.set_summary(scored, heat={"correct_n": 4}, figures=files)
    assert (summary["misclassified"], summary["missed_tumours"], summary["false_alarms"]) == (4, 2, 2)
    assert summary["title"] == "outside scans C" and summary["tumours"] == 4 and summary["threshold"] == THRESHOLD
    assert summary["heat"] == {"correct_n": 4}
    assert files == {"misclassified": "img/new_scans_misclassified_outside.png", "gradcam": "img/new_scans_gradcam_outside.png"}
    json.dumps(summary)  # error_analysis.json can hold it


def test_comparison_rows_keep_the_order_and_refuse_different_sets():
    a = {"n": 4, "threshold": 0.5, "roc_auc": 0.9, "accuracy": 0.75, "sensitivity": 1.0, "specificity": 0.5}
    rows = shipped.comparison_rows({"reference": a, "new-scans": {**a, "roc_auc": 0.8}})
    assert [row["model"] for row in rows] == ["reference", "new-scans"] and rows[1]["roc_auc"] == 0.8
    with pytest.raises(ValueError, match="different sets"):
        shipped.comparison_rows({"reference": a, "new-scans": {**a, "n": 5}})


class _Source:
    def part(self, split):
        assert split == "test"
        return {"images": np.zeros((2, 4, 4, 1)), "labels": np.array([0, 1]), "names": np.array(["p_1", "p_2"])}


class _Outside:
    images, labels, names = np.zeros((3, 4, 4, 1)), np.array([0, 1, 1]), np.array(["no/a", "yes/b", "yes/c"])


def _missing_lgg():
    raise DataError("'data/lgg_image_data.npz' is missing; set $BRAIN_TUMOR_LGG and run prepare")


def test_the_evaluation_sets_skip_what_is_missing_with_a_line():
    a_test = {"images": np.zeros((5, 4, 4, 1)), "labels": np.ones(5), "names": np.arange(5), "groups": None}
    sets, skipped = shipped.evaluation_sets(a_test, _Outside(), lgg_loader=_Source)
    assert list(sets) == ["brain-tumor_test", "lgg_test", "outside"] and skipped == []
    assert set(sets["brain-tumor_test"]) == {"images", "labels", "names"} and len(sets["outside"]["labels"]) == 3
    sets, skipped = shipped.evaluation_sets(a_test, None, lgg_loader=_missing_lgg)
    assert list(sets) == ["brain-tumor_test"]
    assert skipped == ["LGG test rows skipped: 'data/lgg_image_data.npz' is missing",
                       "outside scans C skipped: BRAIN_TUMOR_EXTERNAL is not set"]


def test_the_check_schedule_cuts_the_scan_by_scan_sets_and_keeps_a_whole():
    from braintumor.data.splits import CHECK_PASS_ROWS

    n = CHECK_PASS_ROWS + 50

    class _LargeSource:
        def part(self, split):
            return {"images": np.zeros((n, 4, 4, 1)), "labels": np.arange(n) % 2, "names": np.array([f"p_{k}" for k in range(n)])}

    a_test = {"images": np.zeros((n, 4, 4, 1)), "labels": np.arange(n) % 2, "names": np.arange(n)}
    full, full_lines = shipped.evaluation_sets(a_test, None, lgg_loader=_LargeSource, schedule="full")
    check, check_lines = shipped.evaluation_sets(a_test, None, lgg_loader=_LargeSource, schedule="check")
    assert len(full["lgg_test"]["labels"]) == n and not any("lgg_test" in line for line in full_lines)
    assert len(check["brain-tumor_test"]["labels"]) == n
    assert len(check["lgg_test"]["labels"]) == len(check["lgg_test"]["names"]) == CHECK_PASS_ROWS
    assert set(check["lgg_test"]["names"]) < set(full["lgg_test"]["names"])
    assert f"lgg_test: {CHECK_PASS_ROWS} of {n} rows (check schedule)" in check_lines


def test_error_gradcam_shows_both_kinds_with_their_captions():
    from braintumor.models.networks import build_reference_cnn

    model = build_reference_cnn(resolution=32)
    images = np.random.default_rng(0).integers(0, 256, (8, 240, 240, 1)).astype(np.uint8)
    scored = shipped.score_set(None, "outside", images, LABELS, np.array([f"yes/{k}.jpg" for k in range(8)]), THRESHOLD,
                               predict=_fake_predict(PROBABILITY), with_ci=False)
    pictures, captions = shipped.error_gradcam(model, scored, per_kind=1)
    assert [caption.split(",")[0] for caption in captions] == ["missed tumour", "false alarm"]
    assert captions[0] == "missed tumour, p=0.020\nyes/1.jpg"
    assert len(pictures) == 2 and pictures[0].shape[:2] == (240, 240)
    heat = shipped.sampled_heat(model, scored, per_group=2, seed=0)
    assert heat["misclassified_n"] == 2 and heat["correct_n"] == 2 and heat["sample_per_group"] == 2


def test_the_confusion_panels_and_roc_curves_draw_each_set(tmp_path):
    confusions = {"A test rows": {"tn": 8, "fp": 2, "fn": 1, "tp": 9}, "outside scans C": {"tn": 3, "fp": 1, "fn": 4, "tp": 2}}
    fig = plots.confusion_matrices(confusions, "New-scans model: confusion", path=tmp_path / "c.png")
    assert [ax.get_title() for ax in fig.axes] == ["A test rows (20 scans)", "outside scans C (10 scans)"]
    assert (tmp_path / "c.png").stat().st_size > 0
    plt.close(fig)
    fig = plots.roc_curves({"A test rows": (LABELS, PROBABILITY), "LGG": ([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])},
                           "New-scans model: ROC", threshold=THRESHOLD)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels[0].startswith("A test rows (AUC = ") and labels[1] == "LGG (AUC = 1.000, 4 scans)"
    assert "threshold 0.5" in labels
    plt.close(fig)
    with pytest.raises(ValueError, match="both classes"):
        plots.roc_curves({"one class": ([1, 1], [0.2, 0.8])}, "t")
    with pytest.raises(ValueError):
        plots.confusion_matrices({}, "t")


def _committed_documents(analysis_extra: dict) -> str:
    from braintumor.reports import render

    records = render.load_records(config.MODEL_DIR)
    metrics = records["files"]["metrics.json"]
    analysis = {key: value for key, value in records["analysis"].items() if key not in ("new_scans", "a_test_models")}
    return render.render_documents(metrics, records, {**analysis, **analysis_extra})["erroranalysis.md"]


def test_error_analysis_md_shows_the_new_scans_sets_and_the_models_on_a_test_when_recorded():
    scored = shipped.score_set(None, "lgg_test", np.zeros((8, 4, 4, 1)), LABELS, np.arange(8).astype(str), THRESHOLD,
                               predict=_fake_predict(PROBABILITY), with_ci=False)
    new_scans = {"model": "new-scans", "threshold": THRESHOLD, "threshold_rule": "pooled_threshold", "skipped": [],
                 "sets": {"lgg_test": shipped.set_summary(scored, figures=shipped.figure_files("lgg_test"))}}
    a = {"n": 8, "threshold": 0.5, "roc_auc": 0.875, "accuracy": 0.5, "sensitivity": 0.5, "specificity": 0.5}
    text = _committed_documents({"new_scans": new_scans, "a_test_models": shipped.comparison_rows({"reference": a})})
    assert "## `predict`'s default on each set" in text
    assert "| LGG test rows | 8 | 0.500 | 50.0% | 50.0% | 2 | 2 |" in text
    assert "](img/new_scans_gradcam_lgg_test.png)" in text and "](img/new_scans_roc.png)" in text
    assert "| `reference` | 8 | 0.500 | 0.875 | 50.0% | 50.0% | 50.0% |" in text
    without = _committed_documents({})
    assert "## `predict`'s default on each set" not in without and "| `reference` |" not in without
