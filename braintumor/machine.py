"""The machine a run happened on, recorded beside its timings: TensorFlow trains at different speeds
on different 2-core CPUs, and gives other weights, so a timing or a retrained
figure means little without the CPU that produced it."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine_description() -> dict:
    """CPU model and core counts from /proc (Linux), memory size; 'unknown' elsewhere."""
    cpu_model, memory_gib = platform.processor() or "unknown", None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu_model = next(
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")
        )
        meminfo = Path("/proc/meminfo").read_text()
        memory_kib = next(int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal"))
        memory_gib = round(memory_kib / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model, "logical_cores": os.cpu_count(), "usable_cores": usable, "memory_gib": memory_gib}


def quiet_warnings() -> None:
    """Keep library warnings (TensorFlow's retracing notes, Keras and scikit-learn deprecations)
    out of the notebooks' committed outputs: they change with the install, say nothing about the
    results, and bury what a cell prints. Errors still show."""
    import logging
    import warnings

    for category in (UserWarning, FutureWarning, DeprecationWarning):  # not RuntimeWarning: a NaN should show
        warnings.filterwarnings("ignore", category=category)
    for name in ("tensorflow", "absl", "keras", "py.warnings"):
        logging.getLogger(name).setLevel(logging.ERROR)
