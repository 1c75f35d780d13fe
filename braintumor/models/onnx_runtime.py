"""Scoring a shipped model with ONNX Runtime: `predict` without TensorFlow.

Every shipped `.keras` model has its ONNX export beside it (`<stem>.onnx`, written by
`models.export`, `HeadCrop` inside the graph): the same contract, raw grey scans
(N, 240, 240, 1) float32 0..255 in, (N, 2) softmax probabilities out. Importing ONNX Runtime
and opening the 1.5 MB graph takes about 0.1 s where TensorFlow takes 2-3 s, so a script
that calls `predict` once per slice no longer pays the start-up of a training library.

This module imports only NumPy and ONNX Runtime (the latter when a model is opened), so
that `braintumor predict` starts with neither TensorFlow, Keras, SciPy nor scikit-learn.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .. import config

#: The export's metadata key holding the sha256 of the `.keras` file it was made from, so a
#: stale export (the `.keras` file retrained or replaced since) is noticed, not trusted.
SOURCE_SHA256_KEY = "braintumor.keras_sha256"

#: Expected input and output shapes (None: any batch size), as `predict.load_checked_model`
#: checks them on the Keras model.
INPUT_SHAPE = (None, config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
OUTPUT_SHAPE = (None, 2)


class OnnxModelError(Exception):
    """The ONNX file cannot be used as the model; the message says why and what to do."""


def onnx_path_for(model_path: str | os.PathLike) -> Path:
    """Where the ONNX export of a `.keras` file lives: beside it, same stem, `.onnx`."""
    return Path(model_path).with_suffix(".onnx")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (a 1.6 MB model file: a few milliseconds)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _shape(value) -> tuple:
    """An ONNX Runtime shape ([batch name or None, 240, ...]) with symbolic dims as None."""
    return tuple(dim if isinstance(dim, int) else None for dim in value)


class OnnxModel:
    """An ONNX export opened with ONNX Runtime, offering what `predict` uses of a Keras model:
    `predict_on_batch`, `input_shape` and `output_shape`.

    Runs on the CPU with ONNX Runtime's default threads (all cores), like TensorFlow does.
    """

    def __init__(self, path: str | os.PathLike):
        import onnxruntime

        self.path = Path(path)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: no graph-optimizer chatter on stderr
        # Idle worker threads wait instead of spinning: the same arithmetic, but a spinning worker takes
        # a core from the main thread while the session starts (on 2 cores: ~1/3 of one scan's run)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - ONNX Runtime raises its own types for bad files
            raise OnnxModelError(f"cannot open ONNX model '{self.path}' ({type(error).__name__}: {error})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise OnnxModelError(f"ONNX model '{self.path}' has {len(inputs)} inputs and {len(outputs)} outputs; "
                                 "expected one of each")
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        self.input_shape, self.output_shape = _shape(inputs[0].shape), _shape(outputs[0].shape)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def predict_on_batch(self, batch) -> np.ndarray:
        """(N, 2) probabilities for raw grey scans (N, 240, 240, 1), 0..255 (any numeric dtype)."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return self.session.run([self.output_name], {self.input_name: batch})[0]

    def source_sha256(self) -> str | None:
        """The sha256 of the `.keras` file this export was made from, if the export recorded it."""
        return self.metadata.get(SOURCE_SHA256_KEY)


def load_onnx_model(path: str | os.PathLike) -> OnnxModel:
    """Open an ONNX export and check the package's contract: (None, 240, 240, 1) -> (None, 2).

    Raises `OnnxModelError` (missing file, unreadable graph, other shapes) with a readable
    reason; the caller decides whether to fall back to Keras.
    """
    path = Path(path)
    if not path.is_file():
        raise OnnxModelError(f"ONNX model '{path}' does not exist")
    model = OnnxModel(path)
    if model.input_shape != INPUT_SHAPE or model.output_shape != OUTPUT_SHAPE:
        raise OnnxModelError(f"ONNX model '{path}' maps {model.input_shape} to {model.output_shape}; expected "
                             f"{INPUT_SHAPE} grey scans to {OUTPUT_SHAPE} probabilities")
    return model


#: A model folder's scope detector (`data.scope`): the file, and a "cnn" detector's network beside it.
SCOPE_FILE = "scope.json"


def load_scope_detector(folder: str | os.PathLike) -> tuple[dict | None, OnnxModel | None]:
    """(the scope detector in model folder `folder`, its network): `scope.json` checked whole
    (`data.scope.check_detector`) and, for a "cnn" detector, its ONNX network opened with its shape
    checked, (None, side, side, 1) scans to (None, 1); (None, None) when the folder has no
    scope.json, or one that keeps the cheap cues alone (kind "cues": the card carries them).
    ValueError (or OSError) says why an unreadable or unusable file cannot serve: `predict` and
    the error analysis read the folder through this one function."""
    import json

    from ..data.scope import check_detector

    path = Path(folder) / SCOPE_FILE
    if not path.is_file():
        return None, None
    detector = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(detector, dict) and detector.get("kind") == "cues":
        return None, None
    detector = check_detector(detector)
    if detector.get("kind") != "cnn":
        return detector, None
    network_path, side = path.parent / detector["network"], detector["side"]
    if not network_path.is_file():
        raise ValueError(f"its network '{network_path.name}' is missing")
    try:
        network = OnnxModel(network_path)
    except OnnxModelError as error:
        raise ValueError(str(error)) from None
    if network.input_shape[1:] != (side, side, 1) or network.output_shape[1:] != (1,):
        raise ValueError(f"its network '{network_path.name}' maps {network.input_shape} to {network.output_shape}; "
                         f"expected (None, {side}, {side}, 1) to (None, 1)")
    return detector, network
