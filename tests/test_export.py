"""The ONNX export: made by `save_for_inference`, scores like the Keras model, carries the
`.keras` file's sha256, and `predict` notices a stale or missing one."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from braintumor import config  # noqa: E402
from braintumor.models.export import AGREEMENT_TOLERANCE, agreement, export_model_file  # noqa: E402
from braintumor.models.onnx_runtime import file_sha256, load_onnx_model, onnx_path_for  # noqa: E402


def _scans(count=12, seed=0):
    """Grey scans with a head-like disc of varied size and brightness (HeadCrop crops to it)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:240, :240]
    scans = []
    for _ in range(count):
        radius, centre = rng.uniform(30, 110), rng.uniform(90, 150, 2)
        disc = np.hypot(rows - centre[0], cols - centre[1]) <= radius
        scans.append(np.where(disc, rng.integers(20, 256, (240, 240)), 0))
    scans.append(np.zeros((240, 240)))  # no head at all: HeadCrop keeps the whole picture
    return np.stack(scans).astype(np.uint8)[..., np.newaxis]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    from braintumor.models.networks import build_improved_cnn, load_model, save_for_inference

    path = tmp_path_factory.mktemp("export") / "small.keras"
    save_for_inference(build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1, augment=True), path)
    return path, load_model(path)


def test_save_for_inference_writes_the_export_beside_the_model(saved):
    path, _ = saved
    runtime = load_onnx_model(onnx_path_for(path))
    assert runtime.input_shape == (None, config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
    assert runtime.output_shape == (None, 2)
    assert runtime.session.get_inputs()[0].name == "scan"
    assert runtime.source_sha256() == file_sha256(path)


def test_onnx_agrees_with_keras_within_tolerance(saved):
    path, model = saved
    figures = agreement(model, onnx_path_for(path), _scans(), batch_size=5)
    assert figures["n"] == 13
    assert figures["max_abs_diff"] <= AGREEMENT_TOLERANCE == 1e-4
    assert figures["labels_flipped"] == 0
    probabilities = load_onnx_model(onnx_path_for(path)).predict_on_batch(_scans())
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_augmentation_layers_stay_out_of_the_export(saved):
    """The small model augments in training (random flips, rotations...): the export must be
    the inference graph, deterministic and equal to Keras's predict."""
    path, model = saved
    runtime = load_onnx_model(onnx_path_for(path))
    scans = _scans(4, seed=1).astype(np.float32)
    np.testing.assert_array_equal(runtime.predict_on_batch(scans), runtime.predict_on_batch(scans))
    np.testing.assert_allclose(runtime.predict_on_batch(scans), model.predict_on_batch(scans), atol=1e-5)


def test_shipped_exports_match_their_keras_files():
    """Each committed .onnx was made from the committed .keras beside it (sha256 recorded)."""
    from braintumor.models.specs import SPECS

    shipped = [config.REPO_ROOT / spec.file for spec in SPECS.values() if (config.REPO_ROOT / spec.file).is_file()]
    assert shipped, "no shipped .keras file found"
    for model_path in shipped:  # a spec whose model is not trained yet has no file to match
        runtime = load_onnx_model(onnx_path_for(model_path))
        assert runtime.source_sha256() == file_sha256(model_path), model_path.name


def test_a_stale_export_is_noticed_and_keras_scores(tmp_path, saved, capsys):
    import shutil

    from PIL import Image

    from braintumor.cli import main

    path, model = saved
    copy = tmp_path / "model.keras"
    shutil.copy(path, copy)
    shutil.copy(onnx_path_for(path), onnx_path_for(copy))
    export_model_file(copy, model)  # fresh: records the copy's hash (the same bytes)
    with open(copy, "ab") as handle:
        handle.write(b"\0")  # the .keras file changes (a zip tolerates trailing bytes)
    Image.fromarray(_scans(1)[0, ..., 0]).save(tmp_path / "scan.png")

    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(copy), "--json"])
    out, err = capsys.readouterr()
    assert status == 0 and '"runtime": "keras"' in out
    assert "another version" in err and "braintumor.models.export" in err

    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(copy), "--runtime", "onnx"])
    assert status == 2 and "another version" in capsys.readouterr().err


def test_export_crop_equals_tensorflows_crop_and_resize_exactly():
    import tensorflow as tf

    from braintumor.models.export import _crop_and_resize_by_gathers

    rng = np.random.default_rng(3)
    scans = _scans(8, seed=3).astype(np.float32)
    boxes = np.concatenate([rng.uniform(-0.1, 0.4, (9, 2)), rng.uniform(0.6, 1.1, (9, 2))], axis=1).astype(np.float32)
    for size in ([128, 128], [64, 96], [1, 1]):
        expected = tf.image.crop_and_resize(scans, boxes, tf.range(9), size, extrapolation_value=0.0).numpy()
        got = _crop_and_resize_by_gathers(scans, boxes, tf.range(9), size).numpy()
        np.testing.assert_array_equal(got, expected, err_msg=str(size))


def test_flat_areas_at_the_head_grey_level_agree(tmp_path):
    """Outside clinical JPEGs have flat areas of exactly grey 20, HeadCrop's head level: the
    export's crops must not lift them to 20.000002 (ONNX Resize did, 3e-3 in probability)."""
    from braintumor.data.dataset import HEAD_GREY_LEVEL
    from braintumor.models.networks import build_improved_cnn, load_model, save_for_inference

    path = tmp_path / "m.keras"
    save_for_inference(build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1), path)

    scans = _scans(6, seed=5)
    scans[:, 40:200, 30:210] = HEAD_GREY_LEVEL  # a flat area at exactly the head level
    scans[:3, 100:140, 100:140] = 200
    figures = agreement(load_model(path), onnx_path_for(path), scans)
    assert figures["max_abs_diff"] <= 1e-5 and figures["labels_flipped"] == 0


def test_agreement_counts_only_the_flips_rounding_cannot_explain():
    from braintumor.models.export import RETRAINED_AGREEMENT_TOLERANCE, agrees, probability_agreement

    reference = np.array([0.10, 0.4995, 0.5004, 0.90])
    close = reference + np.array([1e-4, 1e-3, -1e-3, -1e-4])  # two flips, both within 1e-3 of the threshold 0.5
    figures = probability_agreement(close, reference, threshold=0.5)
    assert figures["labels_flipped"] == 2 and figures["labels_flipped_away_from_threshold"] == 0
    assert agrees(figures, RETRAINED_AGREEMENT_TOLERANCE) and not agrees(figures, AGREEMENT_TOLERANCE)


def test_a_real_divergence_fails_the_retrained_bound():
    """A wrong preprocessing or a stale export moves probabilities by far more than CPUs do."""
    from braintumor.models.export import RETRAINED_AGREEMENT_TOLERANCE, agrees, probability_agreement

    reference = np.linspace(0.01, 0.99, 50)
    shifted = np.clip(reference + 0.02, 0, 1)  # a 2-point shift, as a wrong grey scale gives
    assert not agrees(probability_agreement(shifted, reference, 0.5), RETRAINED_AGREEMENT_TOLERANCE)
    flipped = reference.copy()
    flipped[10] = 1 - flipped[10]  # one label flipped far from the threshold
    figures = probability_agreement(flipped, reference, 0.5)
    assert figures["labels_flipped_away_from_threshold"] == 1
    assert not agrees(figures, 1.0)
    with pytest.raises(ValueError, match="50 reference"):
        probability_agreement(reference[:3], reference, 0.5)
