"""Speed and memory of the shipped model, measured on this machine, per runtime side by side.

    python bench/benchmark.py [--model model/new-scans/model.keras] [--quick] [--out model/benchmark.json]

In one run: the A + LGG network's training throughput (rows/s, with and without its photometric
augmentation), the floor (a bare interpreter importing NumPy and Pillow, as a whole process),
one scan through `python -m braintumor predict --json` as a whole process with each runtime
(ONNX Runtime, the default, and Keras/TensorFlow; median of several runs, interleaved so
that the machine's noise hits all alike), the same for one synthetic scan with a skull (the
brain extraction's every step), a folder of scans with each runtime, batch
throughput in this process per runtime, and the peak memory (ru_maxrss) of every child
process. Names the CPU (`machine_description`), reads the model's training time from
model/metrics.json, prints the figures and writes them as JSON (atomically), so that the
README's table (`braintumor/reports/templates/benchmark.md.j2`) quotes measured numbers.
The top-level keys of earlier versions (`predict_one_image_seconds`, ...) keep the Keras
figures they always held; `runtimes` holds both.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from braintumor import config
from braintumor.data.dataset import DataError, load_npz
from braintumor.files import atomic_write
from braintumor.machine import machine_description

REPO_ROOT = config.REPO_ROOT

BATCH_SIZES = (32, 64, 128)
BENCHMARK_PATH = config.MODEL_DIR / "benchmark.json"


def benchmark_images(count: int) -> tuple[np.ndarray, str]:
    """Real scans from the packed dataset when it exists (realistic input), else random ones."""
    try:
        images = load_npz(config.REPO_ROOT / config.NPZ_PATH).images[:count]
        return np.ascontiguousarray(images), str(config.NPZ_PATH)
    except DataError:
        rng = np.random.default_rng(config.SEED)
        shape = (count, config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
        return rng.integers(0, 256, shape, dtype=np.uint8), "random uint8 images (no data/image_data.npz)"


RUNTIMES = ("onnx", "keras")
FLOOR_COMMAND = [sys.executable, "-c", "import numpy, PIL.Image"]


def _timed(model, images: np.ndarray, batch_size: int) -> float:
    """Seconds to score `images` in batches of `batch_size` with `predict_on_batch` (the call
    `predict` makes, for either runtime)."""
    start = time.perf_counter()
    for first in range(0, len(images), batch_size):
        model.predict_on_batch(images[first:first + batch_size].astype(np.float32))
    return time.perf_counter() - start


def throughput(model, images: np.ndarray, batch_sizes, repeats: int) -> dict[str, float]:
    """Scans per second of `model.predict_on_batch` on uint8 scans, median of `repeats` timed
    passes after one warm-up pass (Keras traces its graph on the first call)."""
    figures = {}
    for batch_size in batch_sizes:
        _timed(model, images[: 2 * batch_size], batch_size)
        seconds = [_timed(model, images, batch_size) for _ in range(repeats)]
        figures[str(batch_size)] = round(len(images) / statistics.median(seconds), 1)
    return figures


def timed_process(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MiB) of one child process, which must exit 0."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)  # the rusage of this child alone
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            log.seek(0)
            raise SystemExit(f"{' '.join(command[1:])} exited {child.returncode}:\n"
                             f"{log.read().decode(errors='replace')[-3000:]}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def predict_command(arguments: list[str], runtime: str) -> list[str]:
    return [sys.executable, "-m", "braintumor", "predict", "--json", "--runtime", runtime, *arguments]


def _median_of(runs: list[tuple[float, float]]) -> dict:
    seconds = [round(s, 3) for s, _ in runs]
    return {"median": statistics.median(seconds), "runs": seconds}


def skull_scan(size: int = config.IMAGE_SIZE) -> np.ndarray:
    """A synthetic slice with a skull: a brain disc (grey 110) inside a dark gap (grey 30)
    inside a bright scalp ring (grey 200), on black. A default that extracts the brain finds a
    brain inside a shell here, so the extraction runs every step, SciPy's watershed included;
    a random scan has no such shell and takes the extraction's first steps only."""
    rows, cols = np.mgrid[:size, :size]
    distance = np.hypot(rows - size / 2, cols - size / 2) * 240 / size
    noise = np.random.default_rng(config.SEED).normal(0, 4, (size, size))
    grey = np.select([distance <= 70, distance <= 80, distance <= 90], [110 + noise, 30 + noise, 200 + noise], 0)
    return np.clip(grey, 0, 255).astype(np.uint8)


def measure_processes(model_path: Path, runs: int, folder_count: int) -> dict:
    """Whole-process figures: the floor and, per runtime, one scan and one scan with a skull
    (`runs` times each, interleaved with the floor) and a folder of `folder_count` scans (once).

    The scans are random, but for the skull scan (`skull_scan`): a CNN's cost does not depend
    on what the pixels show; a brain extraction's does.
    """
    rng = np.random.default_rng(config.SEED)
    figures = {"floor": [], **{runtime: {"one": [], "skull": [], "folder": None} for runtime in RUNTIMES}}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "scans"
        folder.mkdir()
        for index in range(folder_count):
            scan = rng.integers(0, 256, (config.IMAGE_SIZE, config.IMAGE_SIZE), dtype=np.uint8)
            Image.fromarray(scan).save(folder / f"scan{index:04d}.png")
        Image.fromarray(skull_scan()).save(Path(scratch) / "skull.png")
        one_scan = [str(folder / "scan0000.png"), "--model", str(model_path)]
        skull = [str(Path(scratch) / "skull.png"), "--model", str(model_path)]
        for runtime in RUNTIMES:  # a first, untimed run of each fills the file cache
            timed_process(predict_command(one_scan, runtime))
            timed_process(predict_command(skull, runtime))
        for _ in range(runs):
            figures["floor"].append(timed_process(FLOOR_COMMAND))
            for runtime in RUNTIMES:
                figures[runtime]["one"].append(timed_process(predict_command(one_scan, runtime)))
                figures[runtime]["skull"].append(timed_process(predict_command(skull, runtime)))
        for runtime in RUNTIMES:
            figures[runtime]["folder"] = timed_process(predict_command([str(folder), "--model", str(model_path)],
                                                                       runtime))
    return figures


def _in_model_dir(path: Path) -> str:
    """`path` relative to the clone's model/ when it lies there (its folder and file), else its name."""
    try:
        return path.resolve().relative_to((REPO_ROOT / "model").resolve()).as_posix()
    except ValueError:
        return path.name


def in_process_models(model_path: Path):
    """{runtime: model} for the throughput: the ONNX export through `onnx_runtime`, the
    `.keras` file through Keras (both as `predict` loads them)."""
    from braintumor.models.networks import load_model
    from braintumor.models.onnx_runtime import load_onnx_model, onnx_path_for

    return {"onnx": load_onnx_model(onnx_path_for(model_path)), "keras": load_model(model_path)}


def training_throughput(images: np.ndarray, epochs: int) -> dict[str, dict]:
    """Rows per second through `networks.train` (validation included) for the A + LGG network,
    with its photometric augmentation and with geometric augmentation only: the two recipes of
    issue 29's comparison, on the same rows, in this process, one after the other."""
    from braintumor.models import configs
    from braintumor.models.networks import build_improved_cnn, train

    labels = np.arange(len(images)) % 2  # the cost of a step does not depend on the labels
    fit, val = slice(0, len(images) * 3 // 4), slice(len(images) * 3 // 4, None)
    recipe = {**configs.training_recipe("a-lgg", "full"), "max_epochs": epochs, "start_from_epoch": epochs,
              "patience": epochs}
    results = {}
    for name, photometric in (("photometric augmentation", True), ("geometric augmentation only", False)):
        network = build_improved_cnn(**{**configs.architecture("a-lgg"), "photometric": photometric})
        fitted = train(network, images[fit], labels[fit], images[val], labels[val], **recipe)
        rows = len(labels[fit]) * fitted.epochs_run
        results[name] = {"rows_per_second": round(rows / fitted.seconds, 1), "rows": rows,
                         "validation_rows_per_epoch": len(labels[val]), "seconds": round(fitted.seconds, 1)}
    return results


def training_seconds() -> tuple[float | None, str]:
    """The shipped model's training time, as recorded by model.ipynb in metrics.json."""
    path = config.REPO_ROOT / config.METRICS_PATH
    try:
        seconds = json.loads(path.read_text(encoding="utf-8"))["training"]["seconds"]
    except FileNotFoundError:
        return None, f"{config.METRICS_PATH} does not exist (train the model first)"
    except (ValueError, KeyError, TypeError) as error:
        return None, f"{config.METRICS_PATH} has no training.seconds ({type(error).__name__}: {error})"
    return float(seconds), f"from {config.METRICS_PATH}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file (default: the file of predict's default model, braintumor/configs/default_model.toml)")
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats: a smoke run")
    parser.add_argument("--out", help=f"figures as JSON (default: {BENCHMARK_PATH} in the repository)")
    args = parser.parse_args(argv)

    from braintumor.models import configs, roles

    model_path = Path(args.model).resolve() if args.model else REPO_ROOT / configs.model_file(roles.default_model())
    out_path = Path(args.out) if args.out else REPO_ROOT / BENCHMARK_PATH
    if not model_path.is_file() or not model_path.with_suffix(".onnx").is_file():
        print(f"error: model file '{model_path}' or its ONNX export beside it does not exist; train it with "
              "`make train` (or export it: `python -m braintumor.models.export MODEL.keras`) or pass --model.",
              file=sys.stderr)
        return 2
    image_count, repeats, command_runs, folder_count = (128, 1, 2, 64) if args.quick else (512, 3, 7, 512)
    training_epochs = 1 if args.quick else 2

    # The commands run first: a child's peak memory counts the parent's size at fork time,
    # so they must start while this process is small (no TensorFlow, no data loaded yet).
    processes = measure_processes(model_path, command_runs, folder_count)

    from braintumor.models.networks import count_parameters, library_versions

    models = in_process_models(model_path)
    images, image_source = benchmark_images(image_count)
    floor = _median_of(processes["floor"])
    runtimes = {}
    for runtime in RUNTIMES:
        one, (folder_seconds, folder_peak) = processes[runtime]["one"], processes[runtime]["folder"]
        one_image, skull_image = _median_of(one), _median_of(processes[runtime]["skull"])
        runtimes[runtime] = {
            "predict_one_image_seconds": one_image,
            "predict_one_image_over_floor": round(one_image["median"] / floor["median"], 2),
            "predict_one_skull_scan_seconds": skull_image,
            "predict_one_skull_scan_over_floor": round(skull_image["median"] / floor["median"], 2),
            "predict_folder": {"images": folder_count, "seconds": round(folder_seconds, 2),
                               "images_per_second_including_startup": round(folder_count / folder_seconds, 1)},
            "throughput_images_per_second_by_batch_size": throughput(models[runtime], images, BATCH_SIZES, repeats),
            "peak_memory_mib": {"predict_one_image_process": round(max(peak for _, peak in one), 1),
                                "predict_folder_process": round(folder_peak, 1)},
        }
    import onnxruntime

    training, training_note = training_seconds()
    keras_figures = runtimes["keras"]
    figures = {
        "machine": machine_description(),
        "versions": {**library_versions(), "onnxruntime": onnxruntime.__version__},
        # Relative to model/ (e.g. "new-scans/model.keras"), as the documents print it after `model/`.
        "model": {"file": _in_model_dir(model_path), "onnx_file": _in_model_dir(model_path.with_suffix(".onnx")),
                  "parameters": count_parameters(models["keras"])},
        "quick": args.quick,
        "floor_seconds": {**floor, "command": "python -c 'import numpy, PIL.Image'",
                          "peak_memory_mib": round(max(peak for _, peak in processes["floor"]), 1)},
        "runtimes": runtimes,
        "default_runtime": "onnx",
        "throughput_measured_on": f"{len(images)} images, {image_source}, median of {repeats}",
        # The keys of earlier versions, still read by the model card's table: the Keras figures.
        "throughput_images_per_second_by_batch_size": keras_figures["throughput_images_per_second_by_batch_size"],
        "predict_one_image_seconds": keras_figures["predict_one_image_seconds"],
        "predict_folder": keras_figures["predict_folder"],
        "peak_memory_mib": {
            "benchmark_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            **keras_figures["peak_memory_mib"],
        },
        "training_seconds": training,
        "training_seconds_source": training_note,
        "a_lgg_training_throughput": {"measured_on": f"{len(images)} images ({image_source}), 3/4 trained, "
                                                     f"1/4 validated, {training_epochs} epochs",
                                      **training_throughput(images, training_epochs)},
    }
    text = json.dumps(figures, indent=2)
    print(text)
    atomic_write(out_path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    print(f"wrote {out_path.relative_to(REPO_ROOT) if out_path.is_relative_to(REPO_ROOT) else out_path}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
