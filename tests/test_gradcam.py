"""Grad-CAM heat maps and overlays on both architectures (tiny untrained models)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PIL import Image

from braintumor import config
from braintumor.evaluation.gradcam import feature_map_width, gradcam, last_conv_layer_name, overlay, save_overlay
from braintumor.models.networks import build_improved_cnn, build_reference_cnn

SIZE = config.IMAGE_SIZE


@pytest.fixture(scope="module")
def improved():
    return build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1)


@pytest.fixture(scope="module")
def reference():
    return build_reference_cnn(resolution=48)


@pytest.fixture(scope="module")
def scans():
    return np.random.default_rng(0).integers(0, 256, (3, SIZE, SIZE, 1)).astype(np.uint8)


def test_last_conv_layer_is_found_in_both_architectures(improved, reference):
    assert last_conv_layer_name(improved) == "block2_relu1"  # after batch norm and ReLU
    assert last_conv_layer_name(reference) == "conv2"


@pytest.mark.parametrize("model_name", ["improved", "reference"])
def test_heatmaps_are_240_square_in_0_to_1(request, scans, model_name):
    model = request.getfixturevalue(model_name)

    heatmaps = gradcam(model, scans)

    assert heatmaps.shape == (len(scans), SIZE, SIZE)
    assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0
    assert heatmaps.max() > 0.0


def test_grey_scans_without_channel_axis_and_explicit_layer_give_the_same_maps(improved, scans):
    np.testing.assert_allclose(
        gradcam(improved, scans[..., 0], layer_name="block2_relu1"), gradcam(improved, scans), atol=1e-6
    )


def test_a_saturated_softmax_does_not_blank_the_map(improved, scans):
    """A huge output bias makes p(tumour) exactly 1.0 in float32 but leaves the logit gradients alone."""
    confident = keras.models.clone_model(improved)
    confident.set_weights(improved.get_weights())
    confident.get_layer("probabilities").bias.assign([-60.0, 60.0])
    assert np.all(confident.predict(scans, verbose=0)[:, 1] == 1.0)

    np.testing.assert_allclose(gradcam(confident, scans), gradcam(improved, scans), atol=1e-5)


def test_a_seed_ensembles_map_is_the_rescaled_mean_of_its_members_maps(scans):
    from braintumor.models.networks import seed_ensemble

    members = [build_improved_cnn(resolution=64, widths=(8, 16), augment=False, preprocess="head_crop", seed=seed)
               for seed in (1, 2)]
    each = [gradcam(member, scans) for member in members]
    ensemble = seed_ensemble(members)

    heatmaps = gradcam(ensemble, scans)

    mean = np.mean(each, axis=0)
    np.testing.assert_allclose(heatmaps, mean / mean.max(axis=(1, 2), keepdims=True), atol=1e-6)
    assert heatmaps.shape == (len(scans), SIZE, SIZE) and np.allclose(heatmaps.max(axis=(1, 2)), 1.0)
    assert feature_map_width(ensemble) == feature_map_width(members[0]) == 64 // 2  # one pooling before block 2


def test_overlay_is_rgb_uint8_and_alpha_0_leaves_the_scan(scans):
    heatmap = np.linspace(0, 1, SIZE * SIZE).reshape(SIZE, SIZE)

    blended = overlay(scans[0], heatmap)
    untouched = overlay(scans[0], heatmap, alpha=0.0)

    assert blended.shape == (SIZE, SIZE, 3) and blended.dtype == np.uint8
    np.testing.assert_array_equal(untouched, np.repeat(scans[0], 3, axis=-1))
    with pytest.raises(ValueError, match="differ"):
        overlay(scans[0], heatmap[:100])


def test_save_overlay_writes_a_png_with_an_optional_title_band(tmp_path, scans):
    heatmap = np.zeros((SIZE, SIZE))

    save_overlay(tmp_path / "plain.png", scans[0], heatmap)
    save_overlay(tmp_path / "titled.png", scans[0], heatmap, title="P(tumour) = 0.9")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["plain.png", "titled.png"]  # no temp files
    with Image.open(tmp_path / "plain.png") as plain, Image.open(tmp_path / "titled.png") as titled:
        assert plain.size == (SIZE, SIZE) and plain.mode == "RGB"
        assert titled.width == SIZE and titled.height > SIZE
