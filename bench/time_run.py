"""Time one of the README's commands and record it in `model/run_costs.json`, with the CPU.

    PYTHONPATH=. python3 bench/time_run.py "make test"

Run it from a fresh clone to include the install: it needs only the standard library and
the package's two stdlib-only modules (`files`, `machine`), so no virtual environment yet.

Each entry is keyed by command and CPU model, so the README can say what a run costs on each
machine it has been measured on (TensorFlow trains 3-4x slower on some 2-core CPUs).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

from braintumor.files import atomic_write
from braintumor.machine import machine_description

COSTS_PATH = Path("model/run_costs.json")


def record(costs: dict, command: str, seconds: float, machine: dict, note: str) -> dict:
    """`costs` with this measurement added (the latest per command and CPU replaces an older one)."""
    entries = [e for e in costs.get("entries", []) if not (e["command"] == command and e["cpu"] == machine["cpu"])]
    entries.append({"command": command, "cpu": machine["cpu"], "cores": machine["usable_cores"],
                    "minutes": round(seconds / 60, 1), "date": datetime.date.today().isoformat(), "note": note})
    return {"entries": sorted(entries, key=lambda e: (e["command"], e["cpu"]))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", help="the shell command to time, e.g. 'make test'")
    parser.add_argument("--note", default="", help="how it was run, e.g. 'fresh clone, install included'")
    parser.add_argument("--out", type=Path, default=COSTS_PATH)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    status = subprocess.call(args.command, shell=True)
    seconds = time.perf_counter() - start
    if status != 0:
        print(f"'{args.command}' failed (exit {status}) after {seconds / 60:.1f} min; nothing recorded", file=sys.stderr)
        return status
    costs = json.loads(args.out.read_text()) if args.out.is_file() else {}
    machine = machine_description()
    updated = record(costs, args.command, seconds, machine, args.note)
    atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(updated, indent=2) + "\n"))
    print(f"'{args.command}': {seconds / 60:.1f} min on {machine['cpu']}; recorded in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
