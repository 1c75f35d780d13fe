"""Speed and memory of the shipped model, measured on this machine.

    python bench/benchmark.py [--model model/braintumor.keras] [--quick] [--out model/benchmark.json]

Measures batch inference throughput (several batch sizes, after a warm-up), the wall time
of the whole `braintumor predict` command on one image (TensorFlow start-up included, the
figure a user waits for) and on a folder, the peak memory of this process and of the
predict processes, and reads the model's training time from model/metrics.json. Prints
the figures and writes them as JSON, so that the README can quote measured numbers.
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


def throughput(model, images: np.ndarray, batch_sizes, repeats: int) -> dict[str, float]:
    """Images per second of `model.predict` on uint8 scans, median of `repeats` timed runs."""
    from braintumor.models.networks import predict_tumour_probability

    figures = {}
    for batch_size in batch_sizes:
        predict_tumour_probability(model, images[: 2 * batch_size], batch_size=batch_size)  # warm-up: tracing
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            predict_tumour_probability(model, images, batch_size=batch_size)
            seconds.append(time.perf_counter() - start)
        figures[str(batch_size)] = round(len(images) / statistics.median(seconds), 1)
    return figures


def timed_predict_command(arguments: list[str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MiB) of one `python -m braintumor predict` process."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "braintumor", "predict", *arguments],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=log,
        )
        _, status, usage = os.wait4(child.pid, 0)  # the rusage of this child alone
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            log.seek(0)
            raise SystemExit(f"predict exited {child.returncode}:\n{log.read().decode(errors='replace')[-3000:]}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def measure_predict_command(model_path: Path, one_image_runs: int, folder_count: int):
    """(seconds, peak MiB) of the command on one scan, per run, and on a folder of scans.

    The scans are random: a CNN's cost does not depend on what the pixels show.
    """
    rng = np.random.default_rng(config.SEED)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "scans"
        folder.mkdir()
        for index in range(folder_count):
            scan = rng.integers(0, 256, (config.IMAGE_SIZE, config.IMAGE_SIZE), dtype=np.uint8)
            Image.fromarray(scan).save(folder / f"scan{index:04d}.png")
        one_scan = [str(folder / "scan0000.png"), "--model", str(model_path)]
        one_image = [timed_predict_command(one_scan) for _ in range(one_image_runs)]
        return one_image, timed_predict_command([str(folder), "--model", str(model_path)])


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
    parser.add_argument("--model", help=f"model file (default: {config.MODEL_PATH} in the repository)")
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats: a smoke run")
    parser.add_argument("--out", help=f"figures as JSON (default: {BENCHMARK_PATH} in the repository)")
    args = parser.parse_args(argv)

    model_path = Path(args.model).resolve() if args.model else REPO_ROOT / config.MODEL_PATH
    out_path = Path(args.out) if args.out else REPO_ROOT / BENCHMARK_PATH
    if not model_path.is_file():
        print(f"error: model file '{model_path}' does not exist; train it with `make train` or pass --model.",
              file=sys.stderr)
        return 2
    image_count, repeats, command_runs, folder_count = (128, 1, 1, 64) if args.quick else (512, 3, 3, 512)

    # The commands run first: a child's peak memory counts the parent's size at fork time,
    # so they must start while this process is small (no TensorFlow, no data loaded yet).
    one_image, (folder_seconds, folder_peak_mib) = measure_predict_command(model_path, command_runs, folder_count)

    from braintumor.models.networks import count_parameters, library_versions, load_model

    model = load_model(model_path)
    images, image_source = benchmark_images(image_count)
    images_per_second = throughput(model, images, BATCH_SIZES, repeats)

    training, training_note = training_seconds()
    one_image_seconds = [round(seconds, 2) for seconds, _ in one_image]
    figures = {
        "machine": machine_description(),
        "versions": library_versions(),
        "model": {"file": model_path.name, "parameters": count_parameters(model)},
        "quick": args.quick,
        "throughput_images_per_second_by_batch_size": images_per_second,
        "throughput_measured_on": f"{len(images)} images, {image_source}, median of {repeats}",
        "predict_one_image_seconds": {"median": statistics.median(one_image_seconds), "runs": one_image_seconds},
        "predict_folder": {
            "images": folder_count,
            "seconds": round(folder_seconds, 2),
            "images_per_second_including_startup": round(folder_count / folder_seconds, 1),
        },
        "peak_memory_mib": {
            "benchmark_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "predict_one_image_process": round(max(peak for _, peak in one_image), 1),
            "predict_folder_process": round(folder_peak_mib, 1),
        },
        "training_seconds": training,
        "training_seconds_source": training_note,
    }
    text = json.dumps(figures, indent=2)
    print(text)
    atomic_write(out_path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    print(f"wrote {out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
