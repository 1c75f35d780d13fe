"""The model contract others rely on: builders, saving, and the committed artifacts."""

import json

import numpy as np
import pytest

from braintumor import config
from braintumor.models import (build_improved_cnn, build_reference_cnn, load_model, predict_tumour_probability,
                               save_for_inference)

REQUIRED_TEST_KEYS = {"n", "accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "confusion"}


@pytest.mark.parametrize("build", [
    lambda: build_reference_cnn(resolution=64),
    lambda: build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1),
])
def test_builders_take_raw_grey_scans_and_return_two_probabilities(build):
    model = build()
    assert tuple(model.input_shape) == (None, config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
    scans = np.random.default_rng(0).integers(0, 256, (3, 240, 240, 1)).astype(np.uint8)
    probabilities = model.predict(scans, verbose=0)
    assert probabilities.shape == (3, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_reference_cnn_is_the_seed_architecture():
    model = build_reference_cnn(resolution=64)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Resizing", "Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
                     "Flatten", "Dense", "Dense", "Dense"]
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(32, (3, 3)), (64, (3, 3))]
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [d.units for d in dense] == [128, 64, 2]
    assert all(d.kernel_regularizer is not None for d in dense)


def test_saved_model_round_trips_in_safe_mode_without_optimizer(tmp_path):
    model = build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    path = tmp_path / "m.keras"
    save_for_inference(model, path)
    reloaded = load_model(path)
    scans = np.full((2, 240, 240, 1), 128, dtype=np.uint8)
    assert np.allclose(predict_tumour_probability(reloaded, scans), predict_tumour_probability(model, scans), atol=1e-6)
    assert getattr(reloaded, "optimizer", None) is None  # no optimizer state shipped


def test_load_model_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "absent.keras")


@pytest.mark.skipif(not (config.REPO_ROOT / config.MODEL_PATH).is_file(), reason="no committed model yet")
def test_committed_model_honours_the_contract():
    path = config.REPO_ROOT / config.MODEL_PATH
    assert path.stat().st_size <= 5_000_000
    model = load_model(path)
    assert tuple(model.input_shape) == (None, 240, 240, 1) and tuple(model.output_shape) == (None, 2)
    probabilities = model.predict(np.zeros((2, 240, 240, 1), dtype=np.uint8), verbose=0)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.skipif(not (config.REPO_ROOT / config.METRICS_PATH).is_file(), reason="no committed metrics yet")
def test_committed_metrics_have_the_agreed_keys():
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    assert REQUIRED_TEST_KEYS <= set(metrics["test"])
    assert set(metrics["test"]["confusion"]) == {"tn", "fp", "fn", "tp"}
    assert 0 < metrics["threshold"] <= 0.5
    assert {"resolution", "epochs_run", "seed", "versions"} <= set(metrics["training"])
    assert {"majority", "forest_csv_features", "forest_image_features", "reference_cnn", "improved_cnn"} <= set(metrics["models"])
    for entry in metrics["models"].values():
        assert REQUIRED_TEST_KEYS <= set(entry)
