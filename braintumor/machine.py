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
