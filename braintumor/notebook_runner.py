"""Execute notebooks in place, printing where the run is: `python -m braintumor.notebook_runner NB...`.

`make reproduce`, `make train` and `make evaluate` run the notebooks with this instead of a
silent `jupyter nbconvert --execute`: before each code cell it prints a line to the terminal
(stderr), e.g. ``[model.ipynb 12/43] 3m20s elapsed, ~5m10s left``. The estimate comes from the
previous run's cell timings, which the executed notebook already records in each cell's
`execution` metadata (as nbconvert does); without them it scales by the cells done so far.
Nothing of this goes into the notebook: the outputs and metadata are what nbconvert writes,
and the file is replaced atomically only once every cell has run.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from .files import atomic_write


def _seconds(metadata: dict) -> float | None:
    """A cell's run time from its `execution` metadata (busy -> idle), if recorded."""
    execution = (metadata or {}).get("execution") or {}
    try:
        start = datetime.fromisoformat(execution["iopub.status.busy"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(execution["iopub.status.idle"].replace("Z", "+00:00"))
    except (KeyError, ValueError, AttributeError):
        return None
    return max((end - start).total_seconds(), 0.0)


def previous_times(nb) -> list[float] | None:
    """Each code cell's time in the run that last wrote the notebook, or None if any is missing."""
    times = [_seconds(cell.get("metadata", {})) for cell in nb.cells if cell.cell_type == "code"]
    return None if not times or None in times else times


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def estimate_left(done: int, elapsed: float, total: int, previous: list[float] | None) -> float | None:
    """Seconds left after `done` of `total` code cells: the previous run's times of the cells
    still to run, scaled by how this run compares with it so far; else the mean so far."""
    if previous and len(previous) == total:
        before = sum(previous[:done])
        speed = elapsed / before if done and before > 1 else 1.0
        return speed * sum(previous[done:])
    if done:
        return elapsed / done * (total - done)
    return None


def progress_line(name: str, done: int, total: int, elapsed: float, left: float | None) -> str:
    return (f"[{name} {done + 1}/{total}] {duration(elapsed)} elapsed"
            + (f", ~{duration(left)} left" if left is not None else ""))


def run(path: Path, timeout: int = 3600, stream=sys.stderr) -> None:
    """Execute the notebook at `path` top to bottom in its folder and write it back in place."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    previous = previous_times(nb)
    code_cells = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    position = {cell_index: n for n, cell_index in enumerate(code_cells)}
    started = time.monotonic()

    def on_cell_start(cell, cell_index, **_):
        if cell_index not in position:
            return
        done, elapsed = position[cell_index], time.monotonic() - started
        left = estimate_left(done, elapsed, len(code_cells), previous)
        print(progress_line(path.name, done, len(code_cells), elapsed, left), file=stream, flush=True)

    client = NotebookClient(nb, timeout=timeout, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
                            resources={"metadata": {"path": str(path.parent.resolve())}},
                            on_cell_start=on_cell_start)
    client.execute()
    atomic_write(path, lambda tmp: nbformat.write(nb, str(tmp)))
    print(f"[{path.name}] done in {duration(time.monotonic() - started)}", file=stream, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m braintumor.notebook_runner", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one cell may run (default 3600)")
    args = parser.parse_args(argv)
    for notebook in args.notebooks:
        run(notebook, timeout=args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
