"""HeadCrop: the layer that takes slice size and overall brightness away from the model."""

import numpy as np
import pytest
from PIL import Image

from braintumor.models.networks import HeadCrop, build_improved_cnn, load_model, save_for_inference


def _head(side: int, grey: float, canvas: int = 240) -> np.ndarray:
    """A round 'head' of diameter `side` with a darker 'lesion', centred on a black canvas."""
    base = np.zeros((100, 100), dtype=np.float32)
    yy, xx = np.mgrid[:100, :100]
    base[(yy - 49.5) ** 2 + (xx - 49.5) ** 2 <= 48 ** 2] = 1.0
    base[30:45, 55:70] *= 0.5
    picture = Image.fromarray((base * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR)
    scan = np.zeros((canvas, canvas), dtype=np.float32)
    start = (canvas - side) // 2
    scan[start:start + side, start:start + side] = np.asarray(picture, dtype=np.float32) / 255 * grey
    return scan[None, :, :, None]


def test_a_small_dim_head_and_a_large_bright_one_look_alike():
    layer = HeadCrop(64)
    small_dim, large_bright = layer(_head(80, 120.0)).numpy(), layer(_head(200, 240.0)).numpy()
    assert small_dim.shape == large_bright.shape == (1, 64, 64, 1)
    # Before the layer the two differ in area six-fold and in brightness two-fold; after it
    # they differ by a small fraction of the signal.
    assert np.abs(small_dim - large_bright).mean() < 0.15 * np.abs(large_bright).mean()


def test_background_is_zero_and_the_head_averages_one():
    out = HeadCrop(64)(_head(150, 200.0)).numpy()[0, :, :, 0]
    assert out[0, 0] == 0.0 and out[-1, -1] == 0.0
    assert out[out > 20 / 200].mean() == pytest.approx(1.0, abs=0.05)


def test_an_empty_scan_gives_zeros_not_nans():
    out = HeadCrop(32)(np.zeros((2, 240, 240, 1), dtype=np.float32)).numpy()
    assert out.shape == (2, 32, 32, 1) and np.isfinite(out).all() and (out == 0).all()


def test_head_crop_model_saves_and_loads_in_safe_mode(tmp_path):
    model = build_improved_cnn(resolution=32, widths=(4, 8), augment=False, preprocess="head_crop")
    scans = np.concatenate([_head(80, 120.0), _head(200, 240.0)]).astype(np.uint8)
    before = model.predict(scans, verbose=0)
    save_for_inference(model, tmp_path / "m.keras")
    after = load_model(tmp_path / "m.keras").predict(scans, verbose=0)
    assert np.allclose(before, after, atol=1e-6)


def test_unknown_preprocess_is_refused():
    with pytest.raises(ValueError, match="preprocess must be"):
        build_improved_cnn(resolution=32, widths=(4,), preprocess="crop")


def test_gradcam_of_a_head_crop_model_lands_on_the_head():
    """The maps come from the cropped frame; they must be put back over the head, not the picture."""
    from braintumor.evaluation.gradcam import _inverse_boxes, gradcam
    import tensorflow as tf

    scan = _head(80, 200.0)  # a small head in the middle of the picture
    layer = HeadCrop(32)
    boxes = layer.boxes(scan)
    # A map that is 1 over the whole crop must come back as 1 over the crop's square, 0 elsewhere.
    back = tf.image.crop_and_resize(tf.ones((1, 32, 32, 1)), _inverse_boxes(boxes), [0], (240, 240)).numpy()[0, :, :, 0]
    top, left, bottom, right = (boxes.numpy()[0] * 239).round().astype(int)
    assert back[(top + bottom) // 2, (left + right) // 2] == pytest.approx(1.0)
    assert back[5, 5] == 0.0 and back[top + 2:bottom - 2, left + 2:right - 2].min() > 0.99
    model = build_improved_cnn(resolution=32, widths=(4, 8), augment=False, preprocess="head_crop")
    heat = gradcam(model, scan.astype(np.uint8))
    assert heat.shape == (1, 240, 240) and heat[0, :top - 2].max() == 0.0 and heat[0, bottom + 3:].max() == 0.0


def test_skull_rim_draws_a_ring_outside_the_head_in_training_only():
    from braintumor.models.networks import RandomSkullRim

    scan = _head(120, 200.0)
    layer = RandomSkullRim(probability=1.0, seed=0)
    np.testing.assert_array_equal(layer(scan, training=False).numpy(), scan)
    ringed = layer(scan, training=True).numpy()[0, :, :, 0]
    head = scan[0, :, :, 0] > 20
    changed = ringed != scan[0, :, :, 0]
    assert changed.any() and not (changed & head).any()  # only outside the head
    distance_ok = np.zeros_like(head)
    rows, cols = np.nonzero(head)
    distance_ok[max(rows.min() - 8, 0):rows.max() + 9, max(cols.min() - 8, 0):cols.max() + 9] = True
    assert not (changed & ~distance_ok).any()  # a few pixels from the head, not across the picture
    assert 80 <= ringed[changed].min() and ringed[changed].max() < 230


def test_intensity_augmentation_is_idle_at_inference_and_keeps_the_background_dark():
    from braintumor.models.networks import RandomIntensity

    crop = HeadCrop(64)(_head(150, 200.0))
    layer = RandomIntensity(seed=0)
    np.testing.assert_array_equal(layer(crop, training=False).numpy(), crop.numpy())
    varied = layer(crop, training=True).numpy()
    assert not np.allclose(varied, crop.numpy())
    assert np.abs(varied[crop.numpy() == 0]).max() < 1e-3  # noise only on the head


def test_augmented_model_saves_and_loads_in_safe_mode_as_the_same_function(tmp_path):
    model = build_improved_cnn(resolution=32, widths=(4, 8), augment=False, preprocess="head_crop",
                               skull_rim=0.5, photometric=True)
    path = tmp_path / "m.keras"
    save_for_inference(model, path)
    scans = np.concatenate([_head(100, 150.0), _head(180, 220.0)])
    np.testing.assert_allclose(load_model(path).predict(scans, verbose=0), model.predict(scans, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="head_crop"):
        build_improved_cnn(resolution=32, widths=(4,), preprocess="resize", photometric=True)


def test_sample_weights_reach_the_loss():
    from braintumor.models.networks import train

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (24, 240, 240, 1)).astype(np.uint8)
    y = np.array([0, 1] * 12)
    runs = []
    for weights in (np.ones(24), np.where(y == 1, 3.0, 0.1)):
        model = build_improved_cnn(resolution=32, widths=(4,), augment=False)
        fit = train(model, x, y, x, y, max_epochs=1, patience=1, batch_size=24, sample_weight=weights,
                    val_sample_weight=weights)
        runs.append(fit.history["loss"][0])
        assert fit.config["sample_weight"] == "balanced within each source"
    assert runs[0] != pytest.approx(runs[1])
