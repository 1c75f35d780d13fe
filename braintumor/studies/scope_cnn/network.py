"""The sequence detector's network (rule `scope_sequence_cnn`): four 3x3 convolutions, each with
2x2 max-pooling, global average pooling, dropout and one sigmoid output, trained on
`data.scope.sequence_inputs` with the rule's augmentation (left-right flips and a random
power of the grey levels, drawn afresh every epoch), and its ONNX export."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...decisions import decision

PARAMETERS = decision("scope_sequence_cnn").parameters


def build(side: int, seed: int = PARAMETERS["seed"]):
    """The detector network for `side` x `side` x 1 inputs, compiled."""
    import keras

    from ...models.networks import set_determinism

    set_determinism(seed)
    inputs = keras.Input((side, side, 1), name="scan")
    x = inputs
    for width in PARAMETERS["widths"]:
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(PARAMETERS["detector_dropout"])(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="out_of_scope")(x)
    model = keras.Model(inputs, outputs, name=f"sequence_cnn_{side}")
    model.compile(optimizer=keras.optimizers.Adam(PARAMETERS["learning_rate"]), loss="binary_crossentropy")
    return model


def augmented(inputs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One epoch's copy of `inputs`: each row flipped left-right with probability 1/2 and its
    grey levels raised to a power drawn uniformly from the rule's [gamma_low, gamma_high]."""
    flip = rng.random(len(inputs)) < 0.5
    out = np.where(flip[:, None, None, None], inputs[:, :, ::-1], inputs)
    power = rng.uniform(PARAMETERS["gamma_low"], PARAMETERS["gamma_high"], len(inputs)).astype(np.float32)
    return np.power(np.clip(out, 0.0, None), power[:, None, None, None]).astype(np.float32)


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Weights that give both classes the same total (scikit-learn's "balanced")."""
    counts = np.bincount(labels.astype(int), minlength=2)
    return {k: float(len(labels) / (2 * counts[k])) for k in (0, 1) if counts[k]}


def train(inputs: np.ndarray, labels: np.ndarray, epochs: int = PARAMETERS["epochs"], seed: int = PARAMETERS["seed"]):
    """(the trained network, {"train_seconds", "rows_trained", "epochs"}): `epochs` passes over
    a fresh augmented copy of `inputs` each, classes balanced."""
    model = build(inputs.shape[1], seed)
    rng = np.random.default_rng(seed)
    weights = class_weights(labels)
    started = time.perf_counter()
    for _ in range(epochs):
        model.fit(augmented(inputs, rng), labels.astype("float32"), batch_size=PARAMETERS["detector_batch_size"], epochs=1,
                  shuffle=True, class_weight=weights, verbose=0)
    return model, {"train_seconds": round(time.perf_counter() - started, 1), "rows_trained": int(len(labels) * epochs),
                   "epochs": epochs}


def probability(model, inputs: np.ndarray) -> np.ndarray:
    """(N,) out-of-scope probabilities."""
    return np.asarray(model.predict(inputs, batch_size=256, verbose=0), dtype=float).reshape(-1)


def export(model, path: Path) -> Path:
    """`model` as ONNX at `path` (a temporary name, then a rename), for `predict` (no TensorFlow)."""
    import warnings

    from ...files import atomic_write

    side = model.input_shape[1]
    model.predict_on_batch(np.zeros((1, side, side, 1), np.float32))  # Keras exports only a model that has been called

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*np.object.*", category=FutureWarning)
            model.export(str(tmp), format="onnx", verbose=False)

    atomic_write(Path(path), write)
    return Path(path)
