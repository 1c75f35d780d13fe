"""Every report figure: drawn on tiny synthetic data, titled, labelled, saved as a PNG."""

import matplotlib

matplotlib.use("Agg")  # headless test run; plots.py itself never picks a backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from PIL import Image  # noqa: E402
from scipy.stats import binomtest  # noqa: E402

from braintumor.reports import plots  # noqa: E402

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
    assert fig.axes[0].get_ylabel() == "loss (sparse categorical cross-entropy)"  # what the models train on
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
    assert "Brier" in fig.axes[0].get_title()
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_reliability_diagram_merges_sparse_bins_so_every_point_holds_enough_scans():
    """40 scans at each end, three in the middle: too few for a point of their own, they join a neighbour."""
    y_true = np.array([0] * 40 + [1] * 40 + [1, 0, 0])
    probability = np.concatenate([np.full(40, 0.02), np.full(40, 0.98), [0.35, 0.45, 0.55]])
    fig = plots.reliability_diagram(y_true, probability, "calibration", min_scans=10)
    curve_ax = fig.axes[0]
    counts = [int(text.get_text().removeprefix("n=")) for text in curve_ax.texts]
    assert sum(counts) == len(y_true) and len(counts) == 2
    assert all(count >= 10 for count in counts)
    legend = " ".join(text.get_text() for text in curve_ax.get_legend().get_texts())
    assert "Wilson 95%" in legend and ">= 10 scans" in legend
    assert fig.axes[1].get_yscale() == "symlog"  # the histogram panel stays


def test_prediction_grid_marks_errors_red(tmp_path, predictions):
    images, y_true, probability, names = predictions
    path = tmp_path / "grid.png"
    fig = plots.prediction_grid(images, y_true, probability, names, 0.5, "test examples", path=path)
    assert len(fig.axes) == 10
    red = [ax.get_title() for ax in fig.axes if ax.title.get_color() == plots.WRONG_COLOUR]
    assert red == ["Image1", "Image4"]
    assert "test examples" in fig.get_suptitle() and "2 errors in red" in fig.get_suptitle()
    right = np.asarray(probability) >= 0.5
    clean = plots.prediction_grid(images, right.astype(int), probability, names, 0.5, "all right")
    assert "no error among these" in clean.get_suptitle() and "in red" not in clean.get_suptitle()
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


def test_misclassified_gallery_caps_the_number_of_scans(predictions):
    images, y_true, probability, names = predictions
    fig = plots.misclassified_gallery(images, y_true, 1 - y_true.astype(float), names, 0.5, "errors", max_shown=7)
    assert len([ax for ax in fig.axes if ax.axison]) == 7
    assert "20 misclassified" in fig.get_suptitle() and "13 not shown" in fig.get_suptitle()


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
    assert "no interval" in fig.axes[0].get_title()
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_resolution_study_shows_wilson_intervals_within_the_axis():
    rows = [
        {"resolution": 64, "val_accuracy": 0.9568, "seconds_per_epoch": 4.9},
        {"resolution": 96, "val_accuracy": 0.9485, "seconds_per_epoch": 12.8},
    ]
    fig = plots.resolution_study_plot(rows, "input size", n_val=602)
    accuracy_ax = fig.axes[0]
    assert sorted(text.get_text() for text in accuracy_ax.texts) == ["571/602", "576/602"]
    low, high = binomtest(571, 602).proportion_ci(method="wilson")
    bottom, top = accuracy_ax.get_ylim()
    assert bottom <= low and top >= 0.9568 and "Wilson" in accuracy_ax.get_title()
    with pytest.raises(ValueError, match="n_val"):
        plots.resolution_study_plot(rows, "t", n_val=0)


def test_resolution_study_needs_rows():
    with pytest.raises(ValueError, match="no rows"):
        plots.resolution_study_plot([], "t")


def overlays(n):
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8) for _ in range(n)], [f"Image{k}\np=0.5" for k in range(n)]


def test_overlay_grid_has_a_colour_bar_and_says_how_maps_are_scaled(tmp_path):
    pictures, captions = overlays(3)
    path = tmp_path / "gradcam.png"
    fig = plots.overlay_grid(pictures, captions, "Grad-CAM", path=path)
    colour_bar_ax = fig.axes[-1]
    assert colour_bar_ax.images or colour_bar_ax.collections  # the colour bar's gradient
    assert "own maximum" in colour_bar_ax.get_ylabel()
    assert plots.GRADCAM_SCALING_NOTE in fig.get_supxlabel()
    assert "most evidence" not in fig.get_suptitle()
    assert [ax.get_xlabel() for ax in fig.axes[:3]] == captions
    assert_titled_and_labelled(fig)
    assert_png(path)


def test_overlay_grid_with_none_and_with_too_many(tmp_path):
    fig = plots.overlay_grid([], [], "Grad-CAM, misclassified", path=tmp_path / "none.png")
    assert "none" in [text.get_text() for text in fig.axes[0].texts]
    assert_titled_and_labelled(fig)
    pictures, captions = overlays(7)
    fig = plots.overlay_grid(pictures, captions, "Grad-CAM", max_shown=4)
    assert sum(1 for ax in fig.axes if ax.images and ax.get_xlabel().startswith("Image")) == 4
    assert "3 not shown" in fig.get_suptitle()
    with pytest.raises(ValueError, match="captions"):
        plots.overlay_grid(pictures, captions[:2], "Grad-CAM")


def test_png_bytes_is_an_rgb_png_at_the_given_dpi_and_what_img_holds(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_title("t")
    data = plots.png_bytes(fig, dpi=50)
    assert data[:8] == PNG_MAGIC
    import io

    with Image.open(io.BytesIO(data)) as picture:
        assert picture.mode == "RGB" and picture.width <= 4 * 50
    assert plots.png_bytes(fig, dpi=50) == data  # no timestamps or versions in the bytes
    from braintumor.reports.plot_base import DPI, SHOW_DPI, _finish

    _finish(fig, tmp_path / "f.png")  # the embedded figure is the img/ file, byte for byte
    assert SHOW_DPI == DPI and (tmp_path / "f.png").read_bytes() == plots.png_bytes(fig)


def test_the_confusion_matrix_is_wide_enough_to_read(tmp_path):
    plots.confusion_matrix_plot({"tn": 5, "fp": 1, "fn": 2, "tp": 7}, "confusion", path=tmp_path / "c.png")
    with Image.open(tmp_path / "c.png") as picture:
        assert picture.width >= 600 and picture.mode == "RGB"


def test_show_displays_a_png_and_closes_the_figure(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    assert plots.show(fig, dpi=40) is None
    assert len(shown) == 1 and shown[0].format == "png" and shown[0].data[:8] == PNG_MAGIC
    assert not plt.fignum_exists(fig.number)
