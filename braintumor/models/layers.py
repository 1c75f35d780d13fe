"""Keras layers of this project's networks: the head crop every shipped network starts with,
and the training-only augmentations for scans from other scanners, sites and sequences.

Each is registered with Keras (package "braintumor"), so a saved `.keras` file that holds
them loads once this module is imported (`braintumor.models.load_model` does). Every
augmentation is the identity at inference: the saved model, its ONNX export, `predict` and
Grad-CAM see the same function.
"""

from __future__ import annotations

import os

import numpy as np

from .. import config  # noqa: F401
from ..data.dataset import HEAD_GREY_LEVEL

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

#: How `HeadCrop` scales the head's grey levels: "mean" divides by the head's mean grey (the
#: shipped models); "standardise" also divides the spread, so the head has mean 1 and standard
#: deviation 0.5 whatever the sequence's contrast (dark FLAIR and bright T1 alike).
HEAD_SCALES = ("mean", "standardise")


@keras.saving.register_keras_serializable(package="braintumor")
class HeadCrop(layers.Layer):
    """Crop each scan to a square around its head, resize it to `size`, and divide its grey
    levels by the head's mean grey (so the head averages 1 and the background stays 0).

    In this dataset the slice's size and brightness predict the label (healthy scans are
    mostly small, bright slices from the top or bottom of the brain); after this layer every
    head fills the same extent with the same intensity scale, so neither is left to read.
    The head is every pixel brighter than `level` grey levels, as in `data.head_mask`;
    `margin` pads the square by that share of its side on each edge. A scan with no head
    pixel is kept whole. Being a layer, it travels inside the saved model: training,
    evaluation, `predict` and Grad-CAM all see the same transformation.
    """

    def __init__(self, size: int = 128, level: float = HEAD_GREY_LEVEL, margin: float = 0.04, scale: str = "mean",
                 **kwargs):
        super().__init__(**kwargs)
        if scale not in HEAD_SCALES:
            raise ValueError(f"scale must be one of {HEAD_SCALES}, not {scale!r}")
        self.size, self.level, self.margin, self.scale = int(size), float(level), float(margin), scale

    def boxes(self, scans):
        """Each scan's crop as `tf.image.crop_and_resize` takes it: (N, 4) rows of
        [top, left, bottom, right], in units of the picture's side minus one (a square
        around the head, padded by `margin`, allowed to reach past the picture's edge)."""
        import tensorflow as tf

        scans = tf.cast(scans, "float32")
        height, width = tf.shape(scans)[1], tf.shape(scans)[2]
        head = scans[..., 0] > self.level
        rows, cols = tf.reduce_any(head, axis=2), tf.reduce_any(head, axis=1)

        def extent(present, length):
            index = tf.cast(tf.range(length), "float32")[None, :]
            first = tf.reduce_min(tf.where(present, index, 1e9), axis=1)
            last = tf.reduce_max(tf.where(present, index, -1e9), axis=1)
            empty = first > last
            length = tf.cast(length, "float32")
            return tf.where(empty, 0.0, first), tf.where(empty, length - 1, last)

        top, bottom = extent(rows, height)
        left, right = extent(cols, width)
        side = tf.maximum(bottom - top, right - left) * (1 + 2 * self.margin) + 1
        centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
        y_scale, x_scale = tf.cast(height - 1, "float32"), tf.cast(width - 1, "float32")
        return tf.stack([(centre_y - side / 2) / y_scale, (centre_x - side / 2) / x_scale,
                         (centre_y + side / 2) / y_scale, (centre_x + side / 2) / x_scale], axis=1)

    def call(self, scans):
        import tensorflow as tf

        scans = tf.cast(scans, "float32")
        crops = tf.image.crop_and_resize(scans, self.boxes(scans), tf.range(tf.shape(scans)[0]),
                                         [self.size, self.size], extrapolation_value=0.0)
        inside = tf.cast(crops > self.level, "float32")
        count = tf.maximum(tf.reduce_sum(inside, axis=[1, 2, 3], keepdims=True), 1.0)
        mean = tf.reduce_sum(crops * inside, axis=[1, 2, 3], keepdims=True) / count
        if self.scale == "standardise":
            # Mean 1 and spread 0.5 inside the head, background 0: contrast no longer tells the sequence.
            spread = tf.sqrt(tf.reduce_sum(tf.square(crops - mean) * inside, axis=[1, 2, 3], keepdims=True) / count)
            return tf.maximum(1.0 + 0.5 * (crops - mean) / (spread + 1.0), 0.0) * inside
        # Divided by the head's mean grey: a scan twice as bright gives the same numbers, the
        # background stays 0 and the head's edge keeps its shape (no sign flip at the rim).
        return crops / (mean + 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, 1)

    def get_config(self):
        config = {**super().get_config(), "size": self.size, "level": self.level, "margin": self.margin}
        if self.scale != "mean":  # files saved before `scale` existed load unchanged
            config["scale"] = self.scale
        return config


@keras.saving.register_keras_serializable(package="braintumor")
class RandomSkullRim(layers.Layer):
    """Training-only augmentation: on a random share of scans, draw a bright ring a few pixels
    outside the head, as scalp and skull look on a clinical scan that was not skull-stripped.

    Works on raw scans (0..255) before `HeadCrop`, so the crop then takes the ring in as it
    would a real skull. The ring lies between 2 and 7 pixels outside the head mask (grey >
    `level`), with one grey level per scan drawn from [80, 230). At inference it is the
    identity, so the saved model is unchanged.
    """

    def __init__(self, probability: float = 0.5, level: float = HEAD_GREY_LEVEL, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.probability, self.level, self.seed = float(probability), float(level), seed
        self._generator = keras.random.SeedGenerator(seed)

    def call(self, scans, training=None):
        import tensorflow as tf

        if not training:
            return scans
        scans = tf.cast(scans, "float32")
        head = tf.cast(scans > self.level, "float32")
        inner = tf.nn.max_pool2d(head, ksize=5, strides=1, padding="SAME")
        outer = tf.nn.max_pool2d(head, ksize=15, strides=1, padding="SAME")
        ring = outer - inner
        batch = tf.shape(scans)[0]
        grey = keras.random.uniform((batch, 1, 1, 1), 80.0, 230.0, seed=self._generator)
        apply = tf.cast(keras.random.uniform((batch, 1, 1, 1), seed=self._generator) < self.probability, "float32")
        return scans * (1 - ring * apply) + ring * apply * grey

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "probability": self.probability, "level": self.level, "seed": self.seed}


@keras.saving.register_keras_serializable(package="braintumor")
class RandomIntensity(layers.Layer):
    """Training-only augmentation for what differs between scanners and sequences: per scan a
    gamma in [1/1.5, 1.5], a gain in [0.8, 1.25] and Gaussian noise of 3% of the signal.

    Works on `HeadCrop`'s output (background 0, head averaging about 1). Identity at inference.
    """

    def __init__(self, max_gamma: float = 1.5, max_gain: float = 1.25, noise: float = 0.03,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.max_gamma, self.max_gain, self.noise, self.seed = float(max_gamma), float(max_gain), float(noise), seed
        self._generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        import tensorflow as tf

        if not training:
            return x
        x = tf.cast(x, "float32")
        batch = tf.shape(x)[0]
        log_gamma = keras.random.uniform((batch, 1, 1, 1), -1.0, 1.0, seed=self._generator) * np.log(self.max_gamma)
        log_gain = keras.random.uniform((batch, 1, 1, 1), -1.0, 1.0, seed=self._generator) * np.log(self.max_gain)
        # Gamma on the grey relative to the head's mean (about 1), so the head stays near 1.
        x = tf.pow(tf.maximum(x, 0.0) + 1e-6, tf.exp(log_gamma)) * tf.exp(log_gain)
        return x + keras.random.normal(tf.shape(x), stddev=self.noise, seed=self._generator) * tf.cast(x > 0.01, "float32")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_gamma": self.max_gamma, "max_gain": self.max_gain,
                "noise": self.noise, "seed": self.seed}


@keras.saving.register_keras_serializable(package="braintumor")
class GatedRandomIntensity(RandomIntensity):
    """`RandomIntensity` on the scans whose gate is 1 only: called on [scans, gate (N, 1)].

    For augmenting one source of a pooled training set and not another (the new-scans study's
    `photometric_lgg_only`): the gate rides as a second training input, and the network saved
    for inference is built without this layer (`networks.with_gated_photometric`).
    """

    def call(self, inputs, training=None):
        import tensorflow as tf

        x, gate = inputs
        x = tf.cast(x, "float32")
        if not training:
            return x
        gate = tf.reshape(tf.cast(gate, "float32"), (-1, 1, 1, 1))
        return gate * super().call(x, training=True) + (1.0 - gate) * x

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="braintumor")
class RandomScanner(layers.Layer):
    """Training-only augmentation for what a scanner and its reconstruction change: per scan a
    smooth multiplicative bias field (exp of a random quadratic over the picture, up to about
    +-`bias` in log grey), blur or sharpening (a 3x3 unsharp mask of random sign and strength up
    to `sharpen`), and, on a `low_res` share of scans, the resolution halved and restored.

    Works on `HeadCrop`'s output (background 0, head about 1); the background stays 0. Identity
    at inference.
    """

    def __init__(self, bias: float = 0.3, sharpen: float = 1.0, low_res: float = 0.3, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.bias, self.sharpen, self.low_res, self.seed = float(bias), float(sharpen), float(low_res), seed
        self._generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        import tensorflow as tf

        if not training:
            return x
        x = tf.cast(x, "float32")
        batch, height, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
        inside = tf.cast(x > 0.01, "float32")
        rows = tf.linspace(-1.0, 1.0, height)[None, :, None, None]
        cols = tf.linspace(-1.0, 1.0, width)[None, None, :, None]
        basis = [rows + 0 * cols, cols + 0 * rows, rows * cols, rows * rows + 0 * cols, cols * cols + 0 * rows]
        coefficients = keras.random.uniform((len(basis), batch, 1, 1, 1), -1.0, 1.0, seed=self._generator)
        log_field = sum(coefficients[k] * basis[k] for k in range(len(basis))) * (self.bias / 2)
        x = x * tf.exp(log_field)
        kernel = tf.constant(np.outer([1, 2, 1], [1, 2, 1]) / 16.0, "float32")[:, :, None, None]
        blurred = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
        amount = keras.random.uniform((batch, 1, 1, 1), -1.0, 1.0, seed=self._generator) * self.sharpen
        x = tf.maximum(x + amount * (x - blurred), 0.0)
        small = tf.image.resize(x, (height // 2, width // 2), method="bilinear")
        coarse = tf.image.resize(small, (height, width), method="bilinear")
        lose = tf.cast(keras.random.uniform((batch, 1, 1, 1), seed=self._generator) < self.low_res, "float32")
        x = lose * coarse + (1 - lose) * x
        return x * inside

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "bias": self.bias, "sharpen": self.sharpen, "low_res": self.low_res,
                "seed": self.seed}
