"""Where the ONNX export and the Keras model part: stage by stage, on one model.

    python scripts/onnx_stages.py MODEL.keras [--out model/onnx_stages.json]

The shipped models agree within about 2e-5 in tumour probability, but a freshly trained
check-schedule model differed by 2.8e-4 on one AMD EPYC (and by 1e-5 on another). The model
is cut in two: the `HeadCrop` layer (find the head, crop it, resize to the network's input,
scale its grey levels) and the network after it. Each half is exported on its own and scored
by both runtimes on A's test rows and the outside scans; the network half is also fed the
*same* crops in both runtimes, so its own difference (convolution order, batch-norm folding,
oneDNN against ONNX Runtime's kernels) is measured apart from the crop's. ONNX Runtime's graph
optimisations are switched off once, to see whether its fusions (batch norm folded into the
convolutions) matter. Run it once with TF_ENABLE_ONEDNN_OPTS=0 too: the record names the
setting. Writes a JSON record that docs/predict.md reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def _session(path, optimise: bool = True):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimise
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session, data, batch_size: int = 64) -> np.ndarray:
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: data[i:i + batch_size]})[0] for i in range(0, len(data), batch_size)])


def stage_differences(model, images) -> dict:
    """Max |ONNX - Keras| per stage: the crop (grey levels), the network on identical crops and
    the whole model (tumour probability), with and without ONNX Runtime's graph optimisations."""
    import keras

    from braintumor.models.export import export_onnx

    images = np.asarray(images, dtype=np.float32)
    crop_model = keras.Model(model.input, model.get_layer("head_crop").output)
    crop_input = keras.Input(shape=crop_model.output.shape[1:])
    hidden = crop_input
    for layer in model.layers[2:]:  # everything after the input and HeadCrop, in inference mode
        hidden = layer(hidden, training=False)
    network = keras.Model(crop_input, hidden)
    network.predict_on_batch(np.zeros((1, *network.input.shape[1:]), np.float32))
    with tempfile.TemporaryDirectory() as folder:
        whole_path, crop_path, network_path = (Path(folder) / name for name in ("whole.onnx", "crop.onnx", "net.onnx"))
        export_onnx(model, whole_path)
        export_onnx(crop_model, crop_path)
        network.export(str(network_path), format="onnx", verbose=False)
        keras_crops = crop_model.predict(images, batch_size=128, verbose=0)
        onnx_crops = _run(_session(crop_path), images)
        keras_p = model.predict(images, batch_size=128, verbose=0)[:, 1]
        onnx_p = _run(_session(whole_path), images)[:, 1]
        onnx_p_plain = _run(_session(whole_path, optimise=False), images)[:, 1]
        network_diff = np.abs(network.predict(keras_crops, batch_size=128, verbose=0)[:, 1]
                              - _run(_session(network_path), keras_crops)[:, 1])
    per_scan_crop = np.abs(keras_crops - onnx_crops).reshape(len(images), -1).max(axis=1)
    whole = np.abs(keras_p - onnx_p)
    worst = int(np.argmax(whole))
    return {"n": int(len(images)), "crop_max_abs_grey": float(per_scan_crop.max()),
            "network_on_same_crops_max_abs": float(network_diff.max()),
            "whole_max_abs": float(whole.max()), "whole_max_abs_without_ort_optimisations": float(np.abs(keras_p - onnx_p_plain).max()),
            "scans_over_1e-5": int((whole > 1e-5).sum()),
            "worst_scan": {"probability": float(keras_p[worst]), "difference": float(whole[worst]),
                           "crop_max_abs_grey": float(per_scan_crop[worst])}}


def main(argv=None) -> int:
    from braintumor import config
    from braintumor.data.external import find_external_dir, load_external
    from braintumor.data.sources import load_sources
    from braintumor.files import atomic_write
    from braintumor.machine import machine_description
    from braintumor.models.networks import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, default=config.MODEL_DIR / "onnx_stages.json")
    parser.add_argument("--label", default=None, help="what the model is (default: its file name)")
    args = parser.parse_args(argv)
    a, = load_sources(["brain-tumor"])
    images = [a.part("test")["images"]]
    if find_external_dir():
        images.append(load_external(find_external_dir()).images)
    figures = stage_differences(load_model(args.model), np.concatenate(images))
    record = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": []}
    record["runs"].append({"model": args.label or args.model.name, "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1"),
                           "machine": machine_description()["cpu"], **figures})
    atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))
    print(json.dumps(record["runs"][-1], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
