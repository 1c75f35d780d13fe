"""`predict`'s start-up: one scan imports only what scoring it needs (issues 40 and 41: "one scan
takes at most 2.5x the bare interpreter", `make bench`).

Each run is a whole process, as `bench/benchmark.py` times it: `python -m braintumor predict
--json SCAN` with the default model and with a model file (the bench's way), stderr not a
terminal. What it must not import: a training or analysis library (TensorFlow, Keras, pandas,
scikit-learn, SciPy, Matplotlib), tqdm (its bar is drawn on a terminal only, and its import costs
~30 ms), `models.specs` (it reads every model's configuration when imported; `predict` reads the
one model's it runs), and the brain-extraction module (imported only for a model whose card asks
for an extraction, as the default's does; its steps are NumPy's, and SciPy's watershed is
imported only for a slice with a brain inside a shell, which the bench's noise scan is not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from braintumor import config
from braintumor.models import configs, roles

NOT_IMPORTED = ("tensorflow", "keras", "pandas", "sklearn", "scipy", "matplotlib", "tqdm",
                "braintumor.models.specs", "braintumor.data.brain_extraction", "braintumor.reports")

#: `python -m braintumor ARGS` run by runpy, as the interpreter runs it, with `os._exit` caught (the
#: teardown `cli.exit_process` skips after `predict`), then what it had imported and how it ended.
_PROBE = """
import os, runpy, sys
ended = []
def _exit(status):
    ended.append("os._exit")
    raise SystemExit(status)
os._exit = _exit
sys.argv = ["braintumor", *sys.argv[1:]]
try:
    runpy.run_module("braintumor", run_name="__main__")
except SystemExit as done:
    status = done.code
names = set(sys.modules)
loaded = sorted(name for name in {NOT_IMPORTED} if name in names or any(m.startswith(name + ".") for m in names))
print("LOADED", loaded, status, ended[0] if ended else "SystemExit")
""".replace("{NOT_IMPORTED}", repr(NOT_IMPORTED))


def _run(*arguments):
    finished = subprocess.run([sys.executable, "-c", _PROBE, "predict", "--json", *map(str, arguments)],
                              cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
    *records, probe = finished.stdout.splitlines()
    return [json.loads(line) for line in records], probe, finished.stderr


@pytest.fixture
def scan(tmp_path):
    """A random 240x240 PNG, like the bench's."""
    path = tmp_path / "scan0000.png"
    Image.fromarray(np.random.default_rng(config.SEED).integers(0, 256, (240, 240), dtype=np.uint8)).save(path)
    return path


def _default_model_file():
    path = config.REPO_ROOT / configs.model_file(roles.default_model())
    if not path.with_suffix(".onnx").is_file():
        pytest.skip(f"no ONNX export of the default model at {path.with_suffix('.onnx')}")
    return path


@pytest.mark.parametrize("how", ["default model", "model file (the bench's way)"])
def test_one_scan_imports_nothing_it_does_not_score_with(scan, how):
    model = _default_model_file()
    arguments = [scan] if how == "default model" else [scan, "--runtime", "onnx", "--model", model]

    [record], probe, err = _run(*arguments)

    assert record["runtime"] == "onnx" and record["model"] == roles.default_model(), err
    # nothing heavy imported, and no teardown; the brain extraction only where the card asks for
    # it, and no SciPy for a noise scan (its watershed serves slices with a brain inside a shell)
    extraction = ["braintumor.data.brain_extraction"] if _extracts(roles.default_model()) else []
    assert probe == f"LOADED {extraction} 0 os._exit", err


def _extracts(name: str) -> bool:
    card = json.loads((config.REPO_ROOT / configs.model_dir(name) / configs.CARD_FILE).read_text())
    return card["preprocessing"]["brain_extraction"] != "none"


def test_a_line_names_the_extraction_exactly_where_the_card_asks_for_one(scan):
    """Each shipped card carries its folder's `[preprocessing] brain_extraction`; the default's
    lines add `preprocessing` where it is not "none" (brain_extraction_default picked inference_only)."""
    _default_model_file()
    [record], _, err = _run(scan)
    assert ("preprocessing" in record) == _extracts(roles.default_model()), err
    assert set(record) - {"preprocessing", "scope_score"} <= {"schema", "file", "probability", "label", "model",
                                                              "runtime", "warning"}, err
    for name in configs.NAMES:
        card = config.REPO_ROOT / configs.model_dir(name) / configs.CARD_FILE
        if card.is_file():
            written = configs.load_config(name).get("preprocessing", {}).get("brain_extraction", "none")
            assert json.loads(card.read_text())["preprocessing"] == {"brain_extraction": written}, name


def _module(*arguments):
    """`python -m braintumor ARGUMENTS` with stdout a pipe, block-buffered (PYTHONUNBUFFERED unset)."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    return subprocess.run([sys.executable, "-m", "braintumor", *map(str, arguments)], cwd=config.REPO_ROOT,
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL, env=environment)


def test_without_the_teardown_every_line_and_the_status_still_come_out(tmp_path):
    """`cli.exit_process` flushes before `os._exit`: a pipe gets every line (block-buffered, not one
    line at a time), the notes on stderr too, and the status is the run's (1: a file unreadable)."""
    _default_model_file()
    folder = tmp_path / "scans"
    folder.mkdir()
    for index in range(40):
        Image.fromarray(np.random.default_rng(index).integers(0, 256, (240, 240), dtype=np.uint8)).save(
            folder / f"scan{index:02d}.png")
    (folder / "broken.png").write_bytes(b"not a picture")

    finished = _module("predict", "--json", "--threshold", "0.5", folder, tmp_path / "missing.png")
    records = [json.loads(line) for line in finished.stdout.decode().splitlines()]

    assert finished.returncode == 1, finished.stderr
    assert len(records) == 42 and sum("error" in record for record in records) == 2
    text = _module("predict", folder / "scan00.png", "--model", "single-source")
    assert text.returncode == 0 and text.stdout.decode().count("\n") == 1


def test_exit_process_flushes_then_skips_the_teardown_after_predict_only(monkeypatch):
    """A reader gone before the last flush gives the broken-pipe status (141), as during the run;
    any other subcommand (or a run that imported TensorFlow) exits the usual way."""
    import io

    from braintumor import cli

    class _Closed(io.StringIO):
        def flush(self):
            raise BrokenPipeError

    ended = []
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # as in a run with ONNX Runtime
    monkeypatch.setattr(cli.os, "_exit", ended.append)
    monkeypatch.setattr(cli, "_SKIP_TEARDOWN", True)
    monkeypatch.setattr(sys, "stdout", _Closed())
    cli.exit_process(0)
    assert ended == [cli.EXIT_BROKEN_PIPE]

    monkeypatch.setattr(sys, "stdout", io.StringIO())
    cli.exit_process(1)
    assert ended[-1] == 1
    monkeypatch.setitem(sys.modules, "tensorflow", sys)  # a predict that scored with Keras
    with pytest.raises(SystemExit) as stopped:
        cli.exit_process(0)
    assert stopped.value.code == 0 and len(ended) == 2
    monkeypatch.delitem(sys.modules, "tensorflow")
    monkeypatch.setattr(cli, "_SKIP_TEARDOWN", False)  # prepare, study
    with pytest.raises(SystemExit):
        cli.exit_process(0)
    assert len(ended) == 2
