"""Grad-CAM heat maps: which part of a scan drove the tumour score.

Used by `braintumor predict --gradcam DIR` and by `erroranalysis.ipynb` to look at
misclassified scans. Works on any model of the package's contract (raw grey scans
(N, 240, 240, 1), 0..255, softmax [no tumour, tumour]).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .. import config

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def last_conv_layer_name(model: keras.Model) -> str:
    """The last feature-map layer: the last layer with a 4-D output that is not a pooling layer.

    That is the activation the classifier head sees, after any batch norm and ReLU. Taking
    a Conv2D's raw output instead, ahead of its batch norm, gives maps whose weighted sum is
    mostly negative, so the ReLU of Grad-CAM blanks them.
    """
    pooling = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer, pooling):
            continue
        if len(layer.output.shape) == 4:
            return layer.name
    raise ValueError(f"model '{model.name}' has no layer with a 4-D output to take Grad-CAM from")


def feature_map_width(model: keras.Model) -> int:
    """The width of the feature maps Grad-CAM reads (for a seed ensemble, its first member's,
    which all members share): how coarse the heat maps are before they are resized."""
    from ..models.networks import ensemble_members

    network = ensemble_members(model)[0]
    return int(network.get_layer(last_conv_layer_name(network)).output.shape[1])


def _score_model(model: keras.Model, layer_name: str):
    """Sub-model to (feature maps, class scores), with the scores taken before the softmax.

    Gradients of a softmax probability vanish once it rounds to 1.0 in float32 (a confident
    model), which would give blank maps; the pre-softmax logits do not saturate.
    """
    features = model.get_layer(layer_name).output
    head = model.layers[-1]
    if isinstance(head, keras.layers.Dense) and head.activation is keras.activations.softmax:
        sub_model = keras.Model(model.inputs, [features, head.input])

        def scores(penultimate):
            logits = keras.ops.matmul(penultimate, head.kernel)
            return logits + head.bias if head.use_bias else logits

        return sub_model, scores
    return keras.Model(model.inputs, [features, model.outputs[0]]), lambda outputs: outputs


def gradcam(model: keras.Model, images, class_index: int = 1, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM of `class_index` (1 = tumour) for scans (N, 240, 240[, 1]), values 0..255.

    Returns heat maps (N, 240, 240) in 0..1, each scaled by its own maximum (all zeros where
    nothing speaks for the class). The model runs with training=False, so augmentation and
    dropout layers are inactive.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    from ..models.networks import ensemble_members

    members = ensemble_members(model)
    if len(members) > 1:
        # A seed ensemble averages its members' probabilities; its map is the mean of theirs,
        # each in 0..1, scaled again by its own maximum.
        mean = np.mean([gradcam(member, images, class_index, layer_name) for member in members], axis=0)
        peaks = mean.max(axis=(1, 2), keepdims=True)
        return np.divide(mean, peaks, out=np.zeros_like(mean), where=peaks > 0)
    sub_model, scores = _score_model(model, layer_name or last_conv_layer_name(model))
    inputs = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        feature_maps, head_inputs = sub_model(inputs, training=False)
        class_scores = scores(head_inputs)[:, class_index]
    gradients = tape.gradient(class_scores, feature_maps)
    channel_weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(channel_weights * feature_maps, axis=-1))
    peaks = tf.reduce_max(cams, axis=(1, 2), keepdims=True)
    cams = tf.math.divide_no_nan(cams, peaks)[..., tf.newaxis]
    size = (config.IMAGE_SIZE, config.IMAGE_SIZE)
    crop = _head_crop_layer(model)
    if crop is None:
        heatmaps = tf.image.resize(cams, size, method="bilinear")
    else:  # the maps are in the head crop's frame: put each back where its crop came from
        heatmaps = tf.image.crop_and_resize(cams, _inverse_boxes(crop.boxes(inputs)), tf.range(tf.shape(cams)[0]),
                                            size, extrapolation_value=0.0)
    return np.clip(heatmaps.numpy()[..., 0], 0.0, 1.0)


def _head_crop_layer(model: keras.Model):
    """The model's `HeadCrop` layer, or None for a model that sees the whole picture."""
    from ..models.networks import HeadCrop

    return next((layer for layer in model.layers if isinstance(layer, HeadCrop)), None)


def _inverse_boxes(boxes):
    """Where the whole picture lies in each crop's own coordinates: the boxes that map a map
    computed on the crop back onto the picture (`crop_and_resize` in reverse; outside the
    crop there is no evidence, so the maps are 0 there)."""
    top, left, bottom, right = tf.unstack(boxes, axis=1)
    height, width = bottom - top, right - left
    return tf.stack([-top / height, -left / width, (1 - top) / height, (1 - left) / width], axis=1)


def jet(values: np.ndarray) -> np.ndarray:
    """The 'jet' colour map (blue, cyan, yellow, red) as RGB floats in 0..1, without matplotlib."""
    values = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)[..., np.newaxis]
    centres = np.array([3.0, 2.0, 1.0], dtype=np.float32)  # red, green, blue peaks at 4*v
    return np.clip(1.5 - np.abs(4.0 * values - centres), 0.0, 1.0)


def overlay(image, heatmap: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """Blend the jet-coloured heat map over a grey uint8 scan; returns RGB uint8 (H, W, 3).

    Colours follow the map's values as given: from `gradcam`, 0 (blue) is no evidence for
    the class and 1 (red) the map's own maximum, however small that is, so red on a scan
    with p(tumour) = 0.000 marks its least unlikely place, not evidence of a tumour. Show
    such overlays with a colour bar and that caveat (`plots.overlay_grid` does).
    """
    grey = np.asarray(image)
    if grey.ndim == 3:
        grey = grey[..., 0]
    if grey.shape != heatmap.shape:
        raise ValueError(f"scan {grey.shape} and heat map {heatmap.shape} differ in size")
    scan_rgb = np.repeat(grey[..., np.newaxis].astype(np.float32) / 255.0, 3, axis=-1)
    blended = (1.0 - alpha) * scan_rgb + alpha * jet(heatmap)
    return np.rint(blended * 255.0).astype(np.uint8)


def save_overlay(path, image, heatmap: np.ndarray, title: str | None = None) -> None:
    """Write the overlay as a PNG, atomically; an optional title goes in a band on top."""
    from ..files import atomic_write

    picture = Image.fromarray(overlay(image, heatmap))
    if title:
        band_height = 18
        titled = Image.new("RGB", (picture.width, picture.height + band_height), "white")
        titled.paste(picture, (0, band_height))
        ImageDraw.Draw(titled).text((4, 3), title, fill="black")
        picture = titled
    atomic_write(Path(path), lambda tmp: picture.save(tmp, format="PNG"))
