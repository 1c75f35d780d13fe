"""Every report figure: drawn on tiny synthetic data, titled, labelled, saved as a PNG."""

import matplotlib

matplotlib.use("Agg")  # headless test run; plots.py itself never picks a backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from braintumor import plots  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y_true = np.array([0, 1] * 10)
    probability = np.clip(y_true * 0.7 + rng.random(20) * 0.3, 0, 1)
    probability[[0, 3]] = [0.9, 0.1]  # one false alarm, one missed tumour
    images = rng.integers(0, 256, (20, 24, 24, 1), dtype=np.uint8)
    names = np.array([f"Image{k}" for k in range(1, 21)])
    return images, y_true, probability, names


def assert_titled_and_labelled(fig):
    titles = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
    assert any(title.strip() for title in titles)
    drawn = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert drawn
    for ax in drawn:
        assert ax.get_xlabel().strip() or ax.get_ylabel().strip(), f"unlabelled axes: {ax}"


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_learning_curves(tmp_path):
    history = {"loss": [0.7, 0.5, 0.4], "val_loss": [0.6, 0.5, 0.55], "accuracy": [0.6, 0.8, 0.9], "val_accuracy": [0.65, 0.8, 0.78]}
    path = tmp_path / "curves.png"
    fig = plots.learning_curves(history, "CNN training", path=path, best_epoch=2)
    assert fig.get_suptitle() == "CNN training"
    assert_titled_and_labelled(fig)
    assert any("restored epoch 2" in text.get_text() for text in fig.axes[0].get_legend().get_texts())
    assert_png(path)


def test_learning_curves_need_all_keys():
    with pytest.raises(ValueError, match="val_accuracy"):
        plots.learning_curves({"loss": [1], "val_loss": [1], "accuracy": [1]}, "t")


def test_confusion_matrix_shows_counts_and_row_percentages(tmp_path):
    path = tmp_path / "confusion.png"
    fig = plots.confusion_matrix_plot({"tn": 8, "fp": 2, "fn": 1, "tp": 9}, "test confusion", path=path)
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert "8\n(80.0% of row)" in texts and "9\n(90.0% of row)" in texts
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == ["no tumour", "tumour"]
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_confusion_matrix_with_an_empty_class():
    fig = plots.confusion_matrix_plot({"tn": 0, "fp": 0, "fn": 1, "tp": 3}, "only tumours")
    assert "0\n(0.0% of row)" in [text.get_text() for text in fig.axes[0].texts]


def test_roc_pr_curves(tmp_path, predictions):
    _, y_true, probability, _ = predictions
    path = tmp_path / "roc.png"
    fig = plots.roc_pr_curves(y_true, probability, "test ROC", path=path, threshold=0.5)
    legend = " ".join(text.get_text() for ax in fig.axes for text in ax.get_legend().get_texts())
    assert "AUC" in legend and "AP" in legend and "threshold 0.5" in legend
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_roc_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        plots.roc_pr_curves([1, 1], [0.2, 0.8], "t")


def test_reliability_diagram(tmp_path, predictions):
    _, y_true, probability, _ = predictions
    path = tmp_path / "reliability.png"
    fig = plots.reliability_diagram(y_true, probability, "calibration", path=path)
    assert "Brier" in " ".join(text.get_text() for text in fig.axes[0].get_legend().get_texts())
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_prediction_grid_marks_errors_red(tmp_path, predictions):
    images, y_true, probability, names = predictions
    path = tmp_path / "grid.png"
    fig = plots.prediction_grid(images, y_true, probability, names, 0.5, "test examples", path=path)
    assert len(fig.axes) == 10
    red = [ax.get_title() for ax in fig.axes if ax.title.get_color() == plots.WRONG_COLOUR]
    assert red == ["Image1", "Image4"]
    assert "test examples" in fig.get_suptitle()
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_misclassified_gallery_shows_every_error(tmp_path, predictions):
    images, y_true, probability, names = predictions
    path = tmp_path / "wrong.png"
    fig = plots.misclassified_gallery(images, y_true, probability, names, 0.5, "errors", path=path)
    shown = [ax.get_title() for ax in fig.axes if ax.axison]
    assert sorted(shown) == ["Image1", "Image4"]
    assert "2 misclassified" in fig.get_suptitle()
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_misclassified_gallery_without_errors(tmp_path, predictions):
    images, y_true, _, names = predictions
    path = tmp_path / "none.png"
    fig = plots.misclassified_gallery(images, y_true, y_true.astype(float), names, 0.5, "errors", path=path)
    assert "no misclassified scans" in [text.get_text() for text in fig.axes[0].texts]
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_near_duplicate_histogram(tmp_path):
    path = tmp_path / "neardup.png"
    distances = np.array([0, 0, 0.3, 0.8, 1.5, 2.2, 3.0, 4.1])
    fig = plots.near_duplicate_histogram(distances, 1.0, "nearest neighbours", path=path)
    legend = " ".join(text.get_text() for text in fig.axes[0].get_legend().get_texts())
    assert "threshold 1.00: 4 scans at or below" in legend and "2 exact duplicates" in legend
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_resolution_study_plot(tmp_path):
    rows = [
        {"resolution": 240, "val_accuracy": 0.95, "seconds_per_epoch": 40.0},
        {"resolution": 64, "val_accuracy": 0.90, "seconds_per_epoch": 4.0},
        {"resolution": 128, "val_accuracy": 0.94, "seconds_per_epoch": 12.0},
    ]
    path = tmp_path / "resolution.png"
    fig = plots.resolution_study_plot(rows, "input size", path=path)
    assert fig.axes[0].lines[0].get_xdata().tolist() == [64, 128, 240]
    assert "(s)" in fig.axes[1].get_ylabel()
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_resolution_study_needs_rows():
    with pytest.raises(ValueError, match="no rows"):
        plots.resolution_study_plot([], "t")
