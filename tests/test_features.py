"""CSV feature loading, texture features from pixels, the forest baseline, CSV-vs-JPEG check."""

import numpy as np
import pytest
from scipy import stats
from skimage.feature import graycomatrix, graycoprops

from braintumor.data import features
from braintumor.data.dataset import DataError

HEADER = "Image,Class," + ",".join(features.CSV_FEATURES) + "\n"


def write_csv(folder, rows):
    (folder / "Brain Tumor.csv").write_text(HEADER + "".join(rows))
    return folder


def row(name, label, first_value="1.5"):
    return f"{name},{label},{first_value}," + ",".join(str(k) for k in range(2, 14)) + "\n"


def random_images(n=4, side=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, side, side), dtype=np.uint8)


# ------------------------------------------------------------------ CSV features


def test_csv_features_follow_the_order_of_names(tmp_path):
    folder = write_csv(tmp_path, [row("Image1", 0, "10"), row("Image2", 1, "20"), row("Image3", 0, "30")])
    loaded = features.load_csv_features(folder, ["Image3", "Image1"])
    assert loaded.shape == (2, 13)
    assert loaded[:, 0].tolist() == [30.0, 10.0]
    assert loaded[0, 1:].tolist() == [float(k) for k in range(2, 14)]


def test_csv_scientific_notation_is_read(tmp_path):
    folder = write_csv(tmp_path, [row("Image1", 0, "7.45834073119875E-155")])
    assert features.load_csv_features(folder, ["Image1"])[0, 0] == pytest.approx(7.45834073119875e-155)


@pytest.mark.parametrize("bad", ["abc", "", "nan", "inf"])
def test_non_numeric_value_names_the_row(tmp_path, bad):
    folder = write_csv(tmp_path, [row("Image1", 0), row("Image2", 1, bad)])
    with pytest.raises(DataError, match=r"line 3 \(Image2\): Mean"):
        features.load_csv_features(folder, ["Image1", "Image2"])


def test_missing_image_row_is_an_error(tmp_path):
    folder = write_csv(tmp_path, [row("Image1", 0)])
    with pytest.raises(DataError, match="Image9"):
        features.load_csv_features(folder, ["Image1", "Image9"])


def test_missing_column_is_an_error(tmp_path):
    (tmp_path / "Brain Tumor.csv").write_text("Image,Class,Mean\nImage1,0,1\n")
    with pytest.raises(DataError, match="Variance"):
        features.load_csv_features(tmp_path, ["Image1"])


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="missing"):
        features.load_csv_features(tmp_path, ["Image1"])


# ------------------------------------------------------------------ image features


def test_image_features_shape_and_names():
    values = features.image_features(random_images())
    assert values.shape == (4, len(features.IMAGE_FEATURE_NAMES)) == (4, 13)
    assert np.isfinite(values).all()


def test_channel_axis_is_accepted():
    images = random_images()
    np.testing.assert_array_equal(features.image_features(images[..., None]), features.image_features(images))


def test_first_order_features_match_numpy_and_scipy():
    images = random_images(n=3, seed=1)
    values = features.image_features(images)
    flat = images.reshape(3, -1).astype(float)
    column = {name: values[:, k] for k, name in enumerate(features.IMAGE_FEATURE_NAMES)}
    np.testing.assert_allclose(column["mean"], flat.mean(axis=1))
    np.testing.assert_allclose(column["variance"], flat.var(axis=1))
    np.testing.assert_allclose(column["std"], flat.std(axis=1))
    np.testing.assert_allclose(column["skewness"], stats.skew(flat, axis=1), atol=1e-12)
    np.testing.assert_allclose(column["kurtosis"], stats.kurtosis(flat, axis=1), atol=1e-12)
    histogram = np.array([np.bincount(image, minlength=256) / image.size for image in images.reshape(3, -1)])
    np.testing.assert_allclose(column["entropy"], stats.entropy(histogram, base=2, axis=1))


def test_glcm_features_match_skimage():
    images = np.concatenate([random_images(n=2, seed=2), (np.arange(32 * 32).reshape(1, 32, 32) % 7 * 30).astype(np.uint8)])
    values = features.image_features(images)
    angles = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    for image, computed in zip(images, values[:, 6:12]):
        glcm = graycomatrix(image, [1], angles, levels=256, symmetric=True, normed=True)
        expected = [graycoprops(glcm, prop).mean() for prop in ("contrast", "energy", "ASM", "homogeneity", "dissimilarity", "correlation")]
        np.testing.assert_allclose(computed, expected, rtol=1e-9, atol=1e-12)


def test_constant_image_has_defined_features():
    values = dict(zip(features.IMAGE_FEATURE_NAMES, features.image_features(np.full((1, 32, 32), 9, np.uint8))[0]))
    assert values["mean"] == 9 and values["variance"] == 0 and values["entropy"] == 0
    assert values["skewness"] == 0 and values["kurtosis"] == 0
    assert values["contrast"] == 0 and values["energy"] == 1 and values["correlation"] == 1
    assert values["coarseness"] == 0


def test_two_equal_levels_have_one_bit_of_entropy():
    image = np.zeros((1, 32, 32), np.uint8)
    image[:, :16] = 200
    assert features.image_features(image)[0, features.IMAGE_FEATURE_NAMES.index("entropy")] == pytest.approx(1.0)


def test_coarseness_grows_with_the_size_of_structure():
    rows, cols = np.indices((32, 32))
    fine = ((rows + cols) % 2 * 255).astype(np.uint8)
    coarse = ((rows // 16 + cols // 16) % 2 * 255).astype(np.uint8)
    coarseness = features.image_features(np.stack([fine, coarse]))[:, -1]
    assert coarseness[0] == pytest.approx(1.0)  # only neighbouring pixels differ
    assert coarseness[1] > 4 * coarseness[0]


def test_image_features_reject_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        features.image_features(np.zeros((1, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        features.image_features(np.zeros((32, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match="divisible"):
        features.image_features(np.zeros((1, 30, 30), dtype=np.uint8))


# ------------------------------------------------------------------ forest


def test_forest_learns_a_separable_problem_and_is_reproducible():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    model, seconds = features.train_forest(X, y, seed=1)
    again, _ = features.train_forest(X, y, seed=1)
    probability = features.forest_probability(model, X)
    assert seconds >= 0
    assert probability.shape == (60,)
    assert ((probability >= 0.5) == y).all()
    assert ((0 <= probability) & (probability <= 1)).all()
    np.testing.assert_array_equal(probability, features.forest_probability(again, X))
    assert model.n_estimators == 300


# ------------------------------------------------------------------ CSV vs JPEG


def csv_with_mean_and_variance(mean, variance):
    table = np.zeros((len(mean), 13))
    table[:, features.CSV_FEATURES.index("Mean")] = mean
    table[:, features.CSV_FEATURES.index("Variance")] = variance
    return table


def test_agreement_is_perfect_for_features_from_the_same_pixels():
    images = random_images(n=6, seed=3)
    flat = images.reshape(6, -1).astype(float)
    agreement = features.csv_vs_image_agreement(csv_with_mean_and_variance(flat.mean(1), flat.var(1)), images)
    assert agreement["mean"]["spearman"] == pytest.approx(1.0)
    assert agreement["variance"]["spearman"] == pytest.approx(1.0)
    assert "example" not in agreement


def test_agreement_shows_reversed_ranking_and_the_example_row():
    images = random_images(n=6, seed=4)
    flat = images.reshape(6, -1).astype(float)
    names = [f"Image{k}" for k in range(1, 7)]
    table = csv_with_mean_and_variance(-flat.mean(1), -flat.var(1))
    agreement = features.csv_vs_image_agreement(table, images, names=names, example="Image3")
    assert agreement["mean"]["spearman"] == pytest.approx(-1.0)
    assert agreement["example"]["jpeg_mean"] == pytest.approx(flat[2].mean())
    assert agreement["example"]["csv_mean"] == pytest.approx(-flat[2].mean())
    with pytest.raises(ValueError, match="Image99"):
        features.csv_vs_image_agreement(table, images, names=names, example="Image99")
