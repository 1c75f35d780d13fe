"""The command line's conventions: --version, the exit statuses (0 scored, 1 unreadable input,
2 usage or model or data error, 3 internal error), --debug, a help that imports no Pillow,
the `schema` of every --json line, and the progress bar drawn on a terminal only.

`predict` runs in-process with the shipped default model's ONNX export (no TensorFlow).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import braintumor
from braintumor import config
from braintumor.cli import main
from braintumor.predict import JSON_SCHEMA

#: What `--help` must not import: Pillow above all, and none of the runtimes and readers.
NOT_FOR_HELP = ("PIL", "onnxruntime", "pydicom", "nibabel", "tensorflow", "keras")


def _png(path, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (240, 240), dtype=np.uint8)).save(path)
    return path


def _volume(path, slices):
    nibabel = pytest.importorskip("nibabel")
    noise = np.random.default_rng(1).integers(0, 256, (240, 240, slices)).astype(np.uint8)
    nibabel.save(nibabel.Nifti1Image(noise, np.eye(4)), path)
    return path


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


# --------------------------------------------------------------------------------------
# --version and --help
# --------------------------------------------------------------------------------------


def test_version_prints_the_package_version_and_exits_0(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"braintumor {braintumor.__version__}\n"


@pytest.mark.parametrize("arguments", [["--help"], ["predict", "--help"], ["--version"]], ids=" ".join)
def test_help_and_version_import_no_pillow_or_runtimes(arguments):
    """The real entry point (`python -m braintumor`), its imports listed by -X importtime."""
    finished = subprocess.run([sys.executable, "-X", "importtime", "-m", "braintumor", *arguments],
                              cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in finished.stderr.splitlines() if line.startswith("import time:")}
    assert "braintumor" in imported  # the listing is there
    assert not imported & set(NOT_FOR_HELP), sorted(imported & set(NOT_FOR_HELP))
    assert finished.stdout.startswith("usage: braintumor" if "--help" in arguments else "braintumor ")


def test_predict_help_states_the_exit_statuses_and_the_schema(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for status in ("0 when every input was scored", "1 when some input could not be read",
                   "2 for a usage error", "3 for an unexpected internal error"):
        assert status in text
    assert f"schema ({JSON_SCHEMA}" in text and "--debug" in text


# --------------------------------------------------------------------------------------
# Exit statuses
# --------------------------------------------------------------------------------------


def test_exit_0_when_every_input_is_scored(tmp_path, capsys):
    status = main(["predict", str(_png(tmp_path / "scan.png"))])
    out, err = capsys.readouterr()
    assert status == 0
    assert out.startswith(f"{tmp_path / 'scan.png'}\t") and "error" not in err


def test_exit_1_when_an_input_cannot_be_read_each_with_its_line(tmp_path, capsys):
    good = _png(tmp_path / "scan.png")
    missing, broken = tmp_path / "missing.png", tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")

    status = main(["predict", str(good), str(missing), str(broken)])
    out, err = capsys.readouterr()

    assert status == 1
    assert out.startswith(f"{good}\t")
    errors = [line for line in err.splitlines() if "\terror: " in line]
    assert [line.split("\t")[0] for line in errors] == [str(missing), str(broken)]
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("arguments", [["predict"], ["predict", "x.png", "--batch-size", "0"],
                                       ["predict", "--nope", "x"], ["no-such-command"]], ids=" ".join)
def test_exit_2_for_a_usage_error(arguments, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(arguments)
    assert stopped.value.code == 2
    assert "usage: braintumor" in capsys.readouterr().err


def test_exit_2_when_the_model_cannot_be_used(tmp_path, capsys):
    scan = _png(tmp_path / "scan.png")
    for model in ("no-such-model", str(tmp_path / "missing.onnx")):
        status = main(["predict", str(scan), "--model", model])
        out, err = capsys.readouterr()
        assert status == 2 and out == ""
        assert err.startswith("error: ") and "Traceback" not in err


def test_exit_2_when_the_training_data_cannot_be_used(tmp_path, monkeypatch, capsys):
    for name in ("BRAIN_TUMOR_EXTRA", "BRAIN_TUMOR_LGG"):
        monkeypatch.delenv(name, raising=False)
    status = main(["prepare", "--data-dir", str(tmp_path / "absent"), "--out", str(tmp_path / "x.npz"),
                   "--splits", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and "Traceback" not in err


@pytest.fixture
def broken_scoring(monkeypatch):
    """Scoring that fails as a bug would: a RuntimeError with a message of two lines."""
    from braintumor.predict import scoring

    def predict_entries(*args, **kwargs):
        raise RuntimeError("scorer fell over\nat batch 0")
        yield  # a generator, like the real one

    monkeypatch.setattr(scoring, "predict_entries", predict_entries)


def test_exit_3_for_an_internal_error_in_one_line_without_a_traceback(tmp_path, broken_scoring, capsys):
    status = main(["predict", str(_png(tmp_path / "scan.png")), "--json"])
    out, err = capsys.readouterr()

    assert status == 3
    assert out == ""
    assert err.splitlines() == ["braintumor: internal error: RuntimeError: scorer fell over at batch 0 "
                                "(rerun with --debug for the traceback)"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_prints_the_traceback_of_an_internal_error(tmp_path, broken_scoring, capsys, where):
    scan = str(_png(tmp_path / "scan.png"))
    arguments = ["--debug", "predict", scan] if where == "before" else ["predict", scan, "--debug"]

    status = main(arguments)
    err = capsys.readouterr().err

    assert status == 3
    assert err.startswith("Traceback (most recent call last):")
    assert 'raise RuntimeError("scorer fell over' in err
    assert err.splitlines()[-1].startswith("braintumor: internal error: RuntimeError: scorer fell over")


def test_debug_changes_nothing_without_an_error(tmp_path, capsys):
    scan = str(_png(tmp_path / "scan.png"))
    assert main(["predict", scan, "--json"]) == 0
    plain = capsys.readouterr().out
    assert main(["--debug", "predict", scan, "--json"]) == 0
    assert capsys.readouterr().out == plain


def test_module_entry_point_exits_3_on_an_internal_error(tmp_path):
    """The process as a user runs it: the same one line, then the traceback with --debug."""
    scan = str(_png(tmp_path / "scan.png"))
    code = ("import sys, runpy\nimport braintumor.predict.scoring as scoring\n"
            "def fail(*args, **kwargs):\n    raise ValueError('bad value')\n"
            "scoring.predict_entries = fail\nsys.argv[0] = 'braintumor'\n"
            "runpy.run_module('braintumor', run_name='__main__')\n")
    for debug in ([], ["--debug"]):
        finished = subprocess.run([sys.executable, "-c", code, *debug, "predict", scan], cwd=config.REPO_ROOT,
                                  capture_output=True, text=True, timeout=120)
        assert finished.returncode == 3
        last = finished.stderr.splitlines()[-1]
        assert last == "braintumor: internal error: ValueError: bad value (rerun with --debug for the traceback)"
        assert ("Traceback" in finished.stderr) == bool(debug)


# --------------------------------------------------------------------------------------
# --json: the schema key
# --------------------------------------------------------------------------------------


def test_every_json_line_carries_the_schema(tmp_path, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    _png(folder / "a.png")
    _volume(folder / "b.nii.gz", 3)
    (folder / "c.txt").write_text("notes")

    status = main(["predict", "--json", str(folder), str(tmp_path / "missing.png")])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 1
    kinds = {"probability": 0, "slices": 0, "skipped": 0, "error": 0}
    for record in records:
        assert record["schema"] == JSON_SCHEMA == 1 and isinstance(record["schema"], int)
        for key in kinds:
            kinds[key] += key in record
    assert kinds == {"probability": 1 + 3, "slices": 1, "skipped": 1, "error": 1}


# --------------------------------------------------------------------------------------
# The progress bar
# --------------------------------------------------------------------------------------


def test_no_progress_is_drawn_when_stderr_is_no_terminal(tmp_path, capsys):
    _png(tmp_path / "a.png")
    _volume(tmp_path / "b.nii.gz", 5)
    for json_flag in ([], ["--json"]):
        status = main(["predict", *json_flag, "--batch-size", "2", str(tmp_path / "a.png"), str(tmp_path / "b.nii.gz")])
        out, err = capsys.readouterr()
        assert status == 0
        assert "\r" not in out + err and "predict:" not in out + err and "scan/s" not in err


def test_on_a_terminal_the_bar_counts_a_volumes_slices_on_stderr_only(tmp_path, monkeypatch, capsys):
    volume = _volume(tmp_path / "volume.nii.gz", 12)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    status = main(["predict", "--json", "--batch-size", "4", str(volume)])
    out = capsys.readouterr().out
    drawn = terminal.getvalue()

    assert status == 0
    assert len(out.splitlines()) == 12 + 1 and all(json.loads(line) for line in out.splitlines())
    assert "\r" not in out and "predict" not in out  # the --json lines stay clean
    assert "predict:" in drawn and "0/12" in drawn  # one entry, counted as its 12 slices once read


def test_lines_written_while_the_bar_is_drawn_are_whole(tmp_path, monkeypatch):
    """Error lines go above the bar (tqdm.write), each whole on its own line."""
    from braintumor.predict.records import print_line, progress_bar

    terminal = _Terminal()
    with progress_bar(3, stream=terminal) as bar:
        assert not bar.disable
        bar.update(1)
        print_line("missing.png\terror: no such file or folder", terminal, bar)
    assert "\nmissing.png\terror: no such file or folder\n" in "\n" + terminal.getvalue().replace("\r", "\n")

    piped = io.StringIO()
    with progress_bar(3, stream=piped) as bar:
        assert bar.disable
        bar.update(3)
        print_line("a line", piped, bar)
    assert piped.getvalue() == "a line\n"
