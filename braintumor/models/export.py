"""ONNX export of a Keras model, and the check that the export scores like the model.

    python -m braintumor.models.export model/new-scans/model.keras [more.keras ...]

writes `<stem>.onnx` beside each `.keras` file (what `networks.save_for_inference` does for
every model it saves). The export is Keras's own (`model.export(format="onnx")`): the whole
model, `HeadCrop` included, so the ONNX graph keeps the package's contract (raw grey
(N, 240, 240, 1) float32 0..255 in, input named 'scan'; (N, 2) softmax out). The sha256 of
the `.keras` file goes into the export's metadata, so `predict` can tell a stale export.

Nothing here imports TensorFlow at module level: the Keras model comes from the caller.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from .. import config
from ..files import atomic_write
from .onnx_runtime import SOURCE_SHA256_KEY, file_sha256, load_onnx_model, onnx_path_for

#: The largest tumour-probability difference between the export and the Keras model that
#: counts as agreement for a committed (shipped) model, measured on the committed files: they
#: differ by at most about 2e-5 (float32 rounding in a different order of operations).
AGREEMENT_TOLERANCE = 1e-4

#: The same for a model the current run trained afresh (`make test`'s check-schedule models,
#: or `make reproduce` on another CPU before its figures are committed). Weights differ by CPU
#: from the same seed, and so do the last digits of the two runtimes: a check-schedule model
#: agreed within 1e-5 on one AMD EPYC and differed by 2.8e-4 on another (docs/predict.md says
#: where that comes from). A real divergence is far larger: a wrong preprocessing or a stale
#: export moves probabilities by 1e-2 or more (tests/test_export.py).
RETRAINED_AGREEMENT_TOLERANCE = 2e-3


def agreement_tolerance(retrained: bool) -> float:
    """The bound `agreement`'s `max_abs_diff` must meet: for a model this run trained, or a committed one."""
    return RETRAINED_AGREEMENT_TOLERANCE if retrained else AGREEMENT_TOLERANCE


def agrees(figures: dict, tolerance: float) -> bool:
    """Whether `agreement`'s figures count as agreement at `tolerance`: the largest difference
    within it, and no label flipped on a scan whose probability lies farther than `tolerance`
    from the threshold (one closer may flip on rounding alone)."""
    return figures["max_abs_diff"] <= tolerance and figures["labels_flipped_away_from_threshold"] == 0


def inference_wrapper(model):
    """`model` inside a functional model that calls it with `training=False`.

    Keras's ONNX export traces the model's `__call__` without a training flag, and Keras's
    random augmentation layers (RandomFlip, RandomRotation, ...) default to training mode:
    the two-source model, which augments, exported its augmentation into the graph (ops that
    ONNX Runtime cannot even load). Fixing `training=False` in the traced call exports the
    inference model only, whatever layers it holds. The input keeps the name 'scan'.
    """
    import keras

    scan = keras.Input(shape=(config.IMAGE_SIZE, config.IMAGE_SIZE, 1), name="scan")
    return keras.Model(scan, model(scan, training=False), name=f"{model.name}_inference")


def _crop_and_resize_by_gathers(image, boxes, box_indices, crop_size, method="bilinear", extrapolation_value=0.0,
                                name=None):
    """`tf.image.crop_and_resize` (bilinear) written with gathers and TensorFlow's own
    arithmetic, for the export only.

    tf2onnx turns `crop_and_resize` into ONNX Resize, whose bilinear weights are summed as
    w0*a + w1*b: between two pixels of the same grey it can give 20.000002 where TensorFlow's
    kernel (top + (bottom - top) * lerp) gives exactly 20. `HeadCrop` counts pixels brighter
    than 20 as head, so on scans with flat grey-20 areas (outside clinical JPEGs) the export
    differed by up to 3e-3 in probability. This version follows the CPU kernel step by step
    (in_y = y1 (H-1) + i (y2-y1)(H-1)/(size-1); floor/ceil neighbours; the same lerps; the
    extrapolation value outside the picture), so both runtimes see the same crops.
    """
    import tensorflow as tf

    if method != "bilinear":
        raise ValueError(f"the export's crop_and_resize supports bilinear only, not {method!r}")
    image = tf.convert_to_tensor(image, "float32")
    shape = tf.shape(image)
    height, width, channels = shape[1], shape[2], shape[3]
    crop_height, crop_width = int(crop_size[0]), int(crop_size[1])
    y1, x1, y2, x2 = tf.unstack(tf.cast(boxes, "float32"), axis=1)
    h_last, w_last = tf.cast(height - 1, "float32"), tf.cast(width - 1, "float32")

    def coordinates(start, end, last, count):
        steps = tf.cast(tf.range(count), "float32")[None, :]
        if count > 1:
            scale = (end - start) * last / float(count - 1)
            position = start[:, None] * last + steps * scale[:, None]
        else:
            position = tf.tile((0.5 * (start + end) * last)[:, None], [1, count])
        valid = (position >= 0.0) & (position <= last)
        low = tf.floor(position)
        lerp = position - low
        last_index = tf.cast(last, "int32")
        low_index = tf.clip_by_value(tf.cast(low, "int32"), 0, last_index)
        high_index = tf.clip_by_value(tf.cast(tf.math.ceil(position), "int32"), 0, last_index)
        return valid, low_index, high_index, lerp

    valid_y, top, bottom, y_lerp = coordinates(y1, y2, h_last, crop_height)
    valid_x, left, right, x_lerp = coordinates(x1, x2, w_last, crop_width)
    flat = tf.reshape(image, [-1, channels])
    base = tf.cast(box_indices, "int32")[:, None, None] * height * width

    def pixels(rows, cols):
        index = base + rows[:, :, None] * width + cols[:, None, :]
        return tf.gather(flat, index)  # (N, crop_height, crop_width, C)

    x_lerp, y_lerp = x_lerp[:, None, :, None], y_lerp[:, :, None, None]
    top_left, top_right = pixels(top, left), pixels(top, right)
    bottom_left, bottom_right = pixels(bottom, left), pixels(bottom, right)
    upper = top_left + (top_right - top_left) * x_lerp
    lower = bottom_left + (bottom_right - bottom_left) * x_lerp
    crops = upper + (lower - upper) * y_lerp
    inside = (valid_y[:, :, None] & valid_x[:, None, :])[..., None]
    return tf.where(inside, crops, tf.cast(extrapolation_value, "float32"))


@contextlib.contextmanager
def _exportable_crop_and_resize():
    """Within the block, `tf.image.crop_and_resize` is `_crop_and_resize_by_gathers` (what
    `HeadCrop` calls while the export traces the model); restored afterwards."""
    import tensorflow as tf

    original = tf.image.crop_and_resize
    tf.image.crop_and_resize = _crop_and_resize_by_gathers
    try:
        yield
    finally:
        tf.image.crop_and_resize = original


def export_onnx(model, onnx_path: str | os.PathLike, source_sha256: str | None = None) -> Path:
    """Write `model` as ONNX to `onnx_path` (atomically: a temporary name, then a rename).

    The model is called once first (Keras exports only a model that has been built and
    called), through `inference_wrapper`. `source_sha256`, the sha256 of the `.keras` file, is stored in the metadata.
    """
    import onnx

    onnx_path = Path(onnx_path)
    inference = inference_wrapper(model)
    inference.predict_on_batch(np.zeros((1, config.IMAGE_SIZE, config.IMAGE_SIZE, 1), np.float32))

    def write(tmp: Path) -> None:
        with _exportable_crop_and_resize(), warnings.catch_warnings():
            # tf2onnx, imported by the export, tests `np.object` (a FutureWarning on NumPy 2): not ours to fix,
            # and printed into whichever notebook cell exports first.
            warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)
            inference.export(str(tmp), format="onnx", verbose=False)
        if source_sha256 is not None:
            graph = onnx.load(str(tmp))
            kept = [prop for prop in graph.metadata_props if prop.key != SOURCE_SHA256_KEY]
            del graph.metadata_props[:]
            graph.metadata_props.extend(kept)
            graph.metadata_props.add(key=SOURCE_SHA256_KEY, value=source_sha256)
            onnx.save(graph, str(tmp))

    atomic_write(onnx_path, write)
    return onnx_path


def export_model_file(model_path: str | os.PathLike, model=None) -> Path:
    """Export the `.keras` file at `model_path` (loaded in safe mode unless `model` is given,
    the same network already in memory) to `<stem>.onnx` beside it; returns that path."""
    model_path = Path(model_path)
    if model is None:
        import keras

        from . import layers  # noqa: F401 - registers HeadCrop & co. with Keras (not `networks`: it imports this module)

        model = keras.models.load_model(model_path, compile=False, safe_mode=True)
    return export_onnx(model, onnx_path_for(model_path), source_sha256=file_sha256(model_path))


def agreement(keras_model, onnx_path: str | os.PathLike, images, threshold: float = 0.5,
              batch_size: int = 128) -> dict:
    """How closely the ONNX export scores `images` like `keras_model`.

    `images`: raw grey scans (N, 240, 240[, 1]), 0..255. Returns {"n": N, "max_abs_diff":
    the largest |tumour probability (ONNX) - (Keras)|, "labels_flipped": how many scans get
    the other label from the two at `threshold` (pass the model's tuned one)}.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    runtime = load_onnx_model(onnx_path)
    from_keras = np.concatenate([np.asarray(keras_model.predict_on_batch(images[start:start + batch_size]
                                                                         .astype(np.float32)))[:, 1]
                                 for start in range(0, len(images), batch_size)] or [np.zeros(0)])
    from_onnx = np.concatenate([runtime.predict_on_batch(images[start:start + batch_size].astype(np.float32))[:, 1]
                                for start in range(0, len(images), batch_size)] or [np.zeros(0)])
    return probability_agreement(from_onnx, from_keras, threshold)


def probability_agreement(probability, reference, threshold: float, margin: float = RETRAINED_AGREEMENT_TOLERANCE) -> dict:
    """How closely `probability` follows `reference` (tumour probabilities of the same scans):
    {"n", "max_abs_diff", "labels_flipped" (at `threshold`), "labels_flipped_away_from_threshold"
    (flips on scans whose reference lies more than `margin` from the threshold: rounding cannot
    explain those)}."""
    probability, reference = np.asarray(probability, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if probability.shape != reference.shape:
        raise ValueError(f"{probability.shape[0]} probabilities against {reference.shape[0]} reference ones")
    flipped = (probability >= threshold) != (reference >= threshold)
    away = np.abs(reference - threshold) > margin
    return {"n": int(len(reference)), "max_abs_diff": float(np.abs(probability - reference).max(initial=0.0)),
            "labels_flipped": int(flipped.sum()), "labels_flipped_away_from_threshold": int((flipped & away).sum())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Export .keras models to ONNX (<stem>.onnx beside each).")
    parser.add_argument("models", nargs="+", metavar="MODEL.keras")
    args = parser.parse_args(argv)
    for path in map(Path, args.models):
        if not path.is_file():
            print(f"error: model file '{path}' does not exist", file=sys.stderr)
            return 2
        print(f"wrote {export_model_file(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
