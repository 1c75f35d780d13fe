"""Model builders, training loop, prediction and safe saving/loading.

Every model takes raw grey scans shaped (N, 240, 240, 1) with values 0..255 and returns
(N, 2) softmax probabilities [no tumour, tumour]. Resizing and rescaling are layers inside
the model, so a saved model cannot be fed wrongly.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..data.dataset import HEAD_GREY_LEVEL
from .selection import (architecture_from_json, choose_improved, choose_resolution,  # noqa: F401 (re-exported)
                        restored_epoch, screen_summary)

# Quieter TensorFlow start-up; set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers, regularizers  # noqa: E402

from .layers import HeadCrop, RandomIntensity, RandomScanner, RandomSkullRim  # noqa: E402,F401 (re-exported)


def set_determinism(seed: int = config.TRAINING_SEED) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic kernels."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _inputs_and_preprocessing(resolution: int):
    inputs = keras.Input(shape=(config.IMAGE_SIZE, config.IMAGE_SIZE, 1), name="scan")
    x = inputs
    if resolution != config.IMAGE_SIZE:
        x = layers.Resizing(resolution, resolution, interpolation="bilinear", name="resize")(x)
    x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    return inputs, x


def build_reference_cnn(resolution: int = 96, l2: float = 1e-3, seed: int = config.TRAINING_SEED) -> keras.Model:
    """The two-convolution network of the Kaggle notebook this project started from.

    Conv 32 3x3 ReLU + MaxPool 2x2, Conv 64 3x3 ReLU + MaxPool 2x2, Flatten, Dense 128 ReLU,
    Dense 64 ReLU, Dense 2 softmax; L2 on the dense layers.
    """
    keras.utils.set_random_seed(seed)
    inputs, x = _inputs_and_preprocessing(resolution)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", kernel_regularizer=regularizers.l2(l2), name="dense128")(x)
    x = layers.Dense(64, activation="relu", kernel_regularizer=regularizers.l2(l2), name="dense64")(x)
    outputs = layers.Dense(2, activation="softmax", kernel_regularizer=regularizers.l2(l2), name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"reference_cnn_{resolution}")


def build_improved_cnn(
    resolution: int = 128,
    widths: tuple[int, ...] = (16, 32, 64, 128),
    convs_per_block: int | tuple[int, ...] = 1,
    l2: float = 1e-4,
    dropout: float = 0.3,
    augment: bool = True,
    bn_momentum: float = 0.9,
    batch_norm: bool = True,
    stem_stride: int = 1,
    head: str = "gap",
    dense_units: tuple[int, ...] = (),
    preprocess: str = "resize",
    skull_rim: float = 0.0,
    photometric: bool = False,
    scanner: bool = False,
    head_scale: str = "mean",
    seed: int = config.TRAINING_SEED,
) -> keras.Model:
    """A small VGG-style network: conv-BN-ReLU blocks, a pooled head, softmax.

    Augmentation (flips, small rotations, shifts and zooms) is a stack of layers that is
    active only in training, so the saved model is the same function at inference.
    Batch-norm statistics follow the weights with momentum 0.9 rather than Keras's 0.99:
    with under a hundred steps per epoch the slower average lags the weights, and the
    validation loss swings from epoch to epoch.

    `stem_stride` 2 lets the first convolution see the full resolution at a quarter of the
    cost of the next layers. `head` is "gap" (global average pooling) or "flatten" (max
    pooling after the last block too, then the flattened map, as in the reference CNN,
    which keeps where in the slice a feature was); `dense_units` adds dense ReLU layers.
    `preprocess` is "resize" (the whole picture resized and scaled to 0..1) or "head_crop"
    (`HeadCrop`: the head cropped to a fixed extent, its grey levels scaled by their mean).
    `skull_rim` > 0 draws a skull-like ring around that share of training scans
    (`RandomSkullRim`), `photometric` adds gamma, gain and noise (`RandomIntensity`); both
    are for scans from other scanners and sites, and both are idle at inference; `scanner`
    adds a bias field, blur or sharpening and resolution loss (`RandomScanner`), and
    `head_scale` "standardise" gives every head the same mean and spread (`HeadCrop`).
    """
    if head not in ("gap", "flatten"):
        raise ValueError(f"head must be 'gap' or 'flatten', not {head!r}")
    if preprocess not in ("resize", "head_crop"):
        raise ValueError(f"preprocess must be 'resize' or 'head_crop', not {preprocess!r}")
    keras.utils.set_random_seed(seed)
    if preprocess == "resize":
        inputs, x = _inputs_and_preprocessing(resolution)
    else:
        inputs = keras.Input(shape=(config.IMAGE_SIZE, config.IMAGE_SIZE, 1), name="scan")
        x = inputs
        if skull_rim:
            x = RandomSkullRim(skull_rim, seed=seed, name="augment_skull_rim")(x)
        x = HeadCrop(resolution, scale=head_scale, name="head_crop")(x)
        if scanner:
            x = RandomScanner(seed=seed, name="augment_scanner")(x)
        if photometric:
            x = RandomIntensity(seed=seed, name="augment_intensity")(x)
    if (skull_rim or photometric or scanner or head_scale != "mean") and preprocess != "head_crop":
        raise ValueError("skull_rim, photometric, scanner and head_scale need preprocess='head_crop'")
    if augment:
        x = layers.RandomFlip("horizontal", seed=seed, name="augment_flip")(x)
        x = layers.RandomRotation(0.04, fill_mode="constant", seed=seed, name="augment_rotate")(x)
        x = layers.RandomTranslation(0.06, 0.06, fill_mode="constant", seed=seed, name="augment_shift")(x)
        x = layers.RandomZoom(0.1, fill_mode="constant", seed=seed, name="augment_zoom")(x)
    if isinstance(convs_per_block, int):
        convs_per_block = (convs_per_block,) * len(widths)
    for block, (width, n_convs) in enumerate(zip(widths, convs_per_block), start=1):
        for conv in range(1, n_convs + 1):
            stride = stem_stride if block == 1 and conv == 1 else 1
            x = layers.Conv2D(
                width, 3, strides=stride, padding="same", use_bias=not batch_norm,
                kernel_regularizer=regularizers.l2(l2), name=f"block{block}_conv{conv}",
            )(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{block}_bn{conv}")(x)
            x = layers.ReLU(name=f"block{block}_relu{conv}")(x)
        if block < len(widths) or head == "flatten":
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    if head == "gap":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    for units in dense_units:
        x = layers.Dropout(dropout, seed=seed, name=f"dropout_dense{units}")(x)
        x = layers.Dense(units, activation="relu", kernel_regularizer=regularizers.l2(l2), name=f"dense{units}")(x)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = layers.Dense(2, activation="softmax", kernel_regularizer=regularizers.l2(l2), name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"improved_cnn_{resolution}")


def compile_for_training(model: keras.Model, learning_rate: float, cosine_decay: bool, max_epochs: int,
                         steps_per_epoch: int) -> None:
    """Adam (constant rate, or cosine decay over `max_epochs` to 5% of it) and sparse
    cross-entropy: the optimiser every trainer here uses, `train` and the GPU screen alike."""
    schedule = (
        keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max_epochs * steps_per_epoch, alpha=0.05)
        if cosine_decay
        else learning_rate
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


@dataclass
class TrainResult:
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    seconds: float
    seconds_per_epoch: float
    config: dict = field(default_factory=dict)


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.durations = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.perf_counter() - self._start)


def _dataset(images, labels, batch_size: int, shuffle: bool, seed: int, weights=None):
    import tensorflow as tf

    columns = (images, labels.astype("int32")) + (() if weights is None else (np.asarray(weights, "float32"),))
    data = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle:
        data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(2)


def train(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    max_epochs: int = 20,
    patience: int = 3,
    start_from_epoch: int = 0,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    cosine_decay: bool = False,
    class_weight: dict | None = None,
    sample_weight: np.ndarray | None = None,
    val_sample_weight: np.ndarray | None = None,
    seed: int = config.TRAINING_SEED,
    verbose: int = 0,
) -> TrainResult:
    """Adam + sparse cross-entropy, early stopping on validation loss, best weights restored.

    `start_from_epoch` makes early stopping ignore the first epochs, whose validation loss
    is erratic while batch-norm statistics settle. Images stay uint8 until the model's own
    rescaling layer, which keeps memory low. `sample_weight` (per training scan) and
    `val_sample_weight` (per validation scan, so that early stopping watches the same
    weighted loss) balance classes within each source when several are pooled.
    """
    set_determinism(seed)
    compile_for_training(model, learning_rate, cosine_decay, max_epochs, int(np.ceil(len(y_train) / batch_size)))
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True, start_from_epoch=start_from_epoch
    )
    timer = _EpochTimer()
    start = time.perf_counter()
    fitted = model.fit(
        _dataset(x_train, y_train, batch_size, shuffle=True, seed=seed, weights=sample_weight),
        validation_data=_dataset(x_val, y_val, 128, shuffle=False, seed=seed, weights=val_sample_weight),
        epochs=max_epochs,
        callbacks=[stopper, timer],
        class_weight=class_weight,
        shuffle=False,  # the tf.data pipeline shuffles, with its own seed
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
    val_loss = history["val_loss"]
    best_epoch = restored_epoch(val_loss, start_from_epoch)
    return TrainResult(
        history=history,
        epochs_run=len(val_loss),
        best_epoch=best_epoch,
        seconds=seconds,
        seconds_per_epoch=float(np.mean(timer.durations)),
        config={
            "max_epochs": max_epochs,
            "patience": patience,
            "start_from_epoch": start_from_epoch,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "cosine_decay": cosine_decay,
            "class_weight": class_weight,
            "sample_weight": None if sample_weight is None else "balanced within each source",
            "seed": seed,
        },
    )


def predict_tumour_probability(model: keras.Model, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Tumour probability (column 1 of the softmax) for raw uint8 scans (N, 240, 240, 1)."""
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    return np.asarray(probabilities[:, 1], dtype=float)


def flip_averaged_probability(model: keras.Model, images: np.ndarray, plain: np.ndarray | None = None,
                               batch_size: int = 128) -> np.ndarray:
    """Tumour probability averaged over each scan and its left-right mirror image.

    `plain`, the scans' own probabilities when already computed, saves one forward pass.
    """
    if plain is None:
        plain = predict_tumour_probability(model, images, batch_size)
    mirrored = predict_tumour_probability(model, np.ascontiguousarray(images[:, :, ::-1]), batch_size)
    return (np.asarray(plain, dtype=float) + mirrored) / 2


def seed_ensemble(members: list[keras.Model], name: str = "seed_ensemble") -> keras.Model:
    """One model whose tumour probability is the mean of `members`' (networks trained alike
    from different seeds), so that the saved file, `predict` and Grad-CAM see one model of the
    package's contract. A single member is returned as it is.

    The members become named sub-models (`member_1`, ...), sharing the one input; each keeps
    its own preprocessing layers, so each sees the scan exactly as it did in training.
    """
    if not members:
        raise ValueError("a seed ensemble needs at least one trained network")
    if len(members) == 1:
        return members[0]
    scan = keras.Input(shape=(config.IMAGE_SIZE, config.IMAGE_SIZE, 1), name="scan")
    outputs = []
    for index, member in enumerate(members, start=1):
        member.name = f"member_{index}"  # sub-model names must be unique within the ensemble
        outputs.append(member(scan))
    return keras.Model(scan, layers.Average(name="mean_probabilities")(outputs), name=name)


def ensemble_members(model: keras.Model) -> list[keras.Model]:
    """The networks a `seed_ensemble` averages, or `[model]` for a single network."""
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return members or [model]


def save_for_inference(model: keras.Model, path: str | os.PathLike, onnx: bool = True) -> None:
    """Save weights and architecture without optimizer state (smaller file), atomically,
    and (with `onnx`, the default) its ONNX export beside it as `<stem>.onnx`.

    The file is the native `.keras` format and loads with `safe_mode=True`. The export is
    what `predict` scores with by default (no TensorFlow needed; `models.export`); it
    records the `.keras` file's sha256, so an export left from an older model is noticed.
    """
    from ..files import atomic_write
    from .export import export_model_file

    # Rebuilt from its config rather than `keras.models.clone_model`, which in Keras 3 carries
    # the compiled optimizer along and would ship its state (three times the weights' size).
    inference_model = keras.Model.from_config(model.get_config())
    inference_model.set_weights(model.get_weights())
    atomic_write(Path(path), lambda tmp: inference_model.save(tmp))
    if onnx:
        export_model_file(path, inference_model)


def load_model(path: str | os.PathLike = config.MODEL_PATH) -> keras.Model:
    """Load a `.keras` model in safe mode (no arbitrary code), uncompiled."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file '{path}' does not exist; train it with `make train`.")
    return keras.models.load_model(path, compile=False, safe_mode=True)


def count_parameters(model: keras.Model) -> int:
    return int(model.count_params())


def library_versions() -> dict[str, str]:
    import platform

    import PIL
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "pillow": PIL.__version__,
    }


def full_architecture(architecture: dict) -> dict:
    """Every keyword of `build_improved_cnn` (defaults filled in), as JSON-friendly values,
    so `metrics.json` and the reports describe the shipped network without guessing defaults."""
    import inspect

    defaults = {name: parameter.default for name, parameter in
                inspect.signature(build_improved_cnn).parameters.items() if name != "seed"}
    unknown = set(architecture) - set(defaults)
    if unknown:
        raise ValueError(f"unknown build_improved_cnn arguments: {sorted(unknown)}")
    merged = {**defaults, **architecture}
    return {key: list(value) if isinstance(value, tuple) else value for key, value in merged.items()}
