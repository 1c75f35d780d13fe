"""Screen many improved-CNN candidates quickly on a GPU, validation rows only.

The CPU search (`python -m braintumor study search train`) costs 8-10 minutes a candidate on a 2-core
CPU. When a GPU machine is at hand, this script trains many candidates at once, each in
its own process, with Keras on the JAX backend, and writes one JSON line a candidate:
validation accuracy and loss per epoch, so that stopping rules can be compared afterwards.

GPU training is not bit-for-bit deterministic and uses another backend, so these figures
only rank candidates; the ones worth shipping are retrained on the CPU by
`python -m braintumor study search train`, whose figures are the ones the repository reports.

    KERAS_BACKEND=jax python scripts/gpu_screen.py trainval.npz results.jsonl [seconds]

`trainval.npz` holds x_train, y_train, x_val, y_val (uint8 scans, integer labels), packed
from the train and validation rows of data/splits.csv; the test rows are not in it.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
GAP = dict(resolution=128, widths=(16, 32, 64, 128))
REFLIKE = dict(resolution=64, widths=(32, 64, 64), head="flatten", dense_units=(128, 64))

# name, architecture (build_improved_cnn keywords, or "reference"), recipe, seed.
CANDIDATES = [
    ("ref64", "reference", dict(epochs=20, cosine=False), 42),
    ("e1_noaug_30", {**GAP, "augment": False}, dict(epochs=30), 42),
    ("d1_aug_30", GAP, dict(epochs=30), 42),
    ("s240_stem2_w16-256", dict(resolution=240, stem_stride=2, widths=(16, 32, 64, 128, 256)), dict(epochs=40), 42),
    ("w128_w32-256", dict(resolution=128, widths=(32, 64, 128, 256)), dict(epochs=40), 42),
    ("c2_128_w16-128", {**GAP, "convs_per_block": 2}, dict(epochs=40), 42),
    ("rf64_bn_aug", REFLIKE, dict(epochs=40), 42),
    ("rf64_nobn_aug", {**REFLIKE, "batch_norm": False}, dict(epochs=40), 42),
    ("f128_flatten", dict(resolution=128, widths=(16, 32, 64, 128, 128), head="flatten", dense_units=(64,)),
     dict(epochs=40), 42),
    ("d1_aug_60", GAP, dict(epochs=60), 42),
    ("d1_lr3e-3", GAP, dict(epochs=40, lr=3e-3), 42),
    ("d1_lr3e-4", GAP, dict(epochs=40, lr=3e-4), 42),
    ("d1_b64", GAP, dict(epochs=40, batch_size=64), 42),
    ("d1_bn0.99", {**GAP, "bn_momentum": 0.99}, dict(epochs=40), 42),
    ("d1_dropout0", {**GAP, "dropout": 0.0}, dict(epochs=40), 42),
    ("e2_96_w32-256", dict(resolution=96, widths=(32, 64, 128, 256)), dict(epochs=40), 42),
    ("s240_c2", dict(resolution=240, stem_stride=2, widths=(16, 32, 64, 128, 256), convs_per_block=(1, 2, 2, 2, 2)),
     dict(epochs=40), 42),
    ("r160_w16-256", dict(resolution=160, widths=(16, 32, 64, 128, 256)), dict(epochs=40), 42),
    ("d1_aug_40_seed7", GAP, dict(epochs=40), 7),
    ("s240_stem2_seed7", dict(resolution=240, stem_stride=2, widths=(16, 32, 64, 128, 256)), dict(epochs=40), 7),
    ("rf64_bn_aug_seed7", REFLIKE, dict(epochs=40), 7),
    ("w128_w32-256_seed7", dict(resolution=128, widths=(32, 64, 128, 256)), dict(epochs=40), 7),
    ("ref64_seed7", "reference", dict(epochs=20, cosine=False), 7),
    ("e1_noaug_30_seed7", {**GAP, "augment": False}, dict(epochs=30), 7),
]


def run_candidate(args):
    index, data_path, out_path = args
    import keras
    import numpy as np

    from braintumor.models.networks import build_improved_cnn, build_reference_cnn, compile_for_training

    name, architecture, recipe, seed = CANDIDATES[index]
    if os.environ.get("SCREEN_NOAUG") and architecture != "reference":
        # Keras's augmentation layers are slow on the JAX backend; screen architectures without them.
        name, architecture = name + "_noaug", {**architecture, "augment": False}
    with np.load(data_path, allow_pickle=False) as data:
        x_train, y_train, x_val, y_val = (data[k] for k in ("x_train", "y_train", "x_val", "y_val"))
    if architecture == "reference":
        model = build_reference_cnn(resolution=64, seed=seed)
    else:
        model = build_improved_cnn(**architecture, seed=seed)
    epochs, batch_size = recipe["epochs"], recipe.get("batch_size", 32)
    compile_for_training(model, recipe.get("lr", 1e-3), recipe.get("cosine", True), epochs,
                         int(np.ceil(len(y_train) / batch_size)))
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    history = model.fit(x_train, y_train.astype("int32"), batch_size=batch_size, epochs=epochs,
                        validation_data=(x_val, y_val.astype("int32")), shuffle=True, verbose=0).history
    row = {
        "name": name,
        "architecture": architecture,
        "recipe": recipe,
        "seed": seed,
        "parameters": int(model.count_params()),
        "gpu_seconds": round(time.perf_counter() - start, 1),
        **{key: [round(float(v), 4) for v in values] for key, values in history.items()},
    }
    with open(out_path, "a") as out:
        out.write(json.dumps(row) + "\n")
    print(f"{name}: best val acc {max(row['val_accuracy']):.4f}, last {row['val_accuracy'][-1]:.4f}, "
          f"{row['gpu_seconds']} s", flush=True)
    return name


def main() -> int:
    import multiprocessing as mp

    data_path, out_path = sys.argv[1], sys.argv[2]
    deadline = float(sys.argv[3]) if len(sys.argv) > 3 else 450
    workers = int(os.environ.get("SCREEN_WORKERS", "8"))
    only = os.environ.get("SCREEN_ONLY")
    indices = [i for i, c in enumerate(CANDIDATES) if not only or c[0] in only.split(",")]
    with mp.get_context("spawn").Pool(workers) as pool:
        pending = pool.map_async(run_candidate, [(i, data_path, out_path) for i in indices], chunksize=1)
        pending.wait(deadline)
        if not pending.ready():
            print(f"deadline of {deadline} s reached; unfinished candidates dropped", flush=True)
            pool.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
