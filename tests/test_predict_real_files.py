"""`braintumor predict` on real-format files: each row of issue 23's table, built from
pydicom's and nibabel's own test files (scanner output nobody here wrote) or small edits of
them, and files written in a temporary folder.

The command runs in-process with the shipped model's ONNX export (no TensorFlow), except the
README's Keras snippet, which runs in a subprocess of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from braintumor import config
from braintumor.cli import main
from braintumor.data.images import linear_to_grey, percentile_range, read_scan, to_model_size
from braintumor.models import roles  # noqa: E402

pydicom = pytest.importorskip("pydicom")
nibabel = pytest.importorskip("nibabel")

from pydicom.filebase import DicomFileLike  # noqa: E402
from pydicom.filewriter import write_dataset, write_file_meta_info  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

#: pydicom's own test files, read from the installed package (never downloaded).
PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"
MR_SMALL = PYDICOM_FILES / "MR_small.dcm"  # 64x64 MR, 16-bit signed, values 127..2145, window 600/1600
#: The same SOP instance as MR_small.dcm in other transfer syntaxes, every one decodable by
#: pydicom alone (RLE, big-endian, implicit VR, explicit big-endian).
MR_SMALL_COPIES = ("MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_expb.dcm")


@pytest.fixture
def run(capsys):
    """(exit status, JSON lines, stderr) of `braintumor predict --json ARGUMENTS`, in-process."""

    def run(*arguments):
        status = main(["predict", "--json", *map(str, arguments)])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return status, [json.loads(line) for line in out.splitlines()], err
    return run


def mr_dataset(**changes):
    """MR_small.dcm read with pydicom, as a new SOP instance (and the tags in `changes` set)."""
    dataset = pydicom.dcmread(MR_SMALL)
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for key, value in changes.items():
        setattr(dataset, key, value)
    return dataset


def write_with_syntax(path: Path, dataset, syntax: str) -> Path:
    """`dataset` written as explicit VR little endian under a TransferSyntaxUID pydicom refuses
    to write itself (a private or newer one): the meta header names `syntax`."""
    dataset.file_meta.TransferSyntaxUID = syntax
    with open(path, "wb") as raw:
        raw.write(b"\0" * 128 + b"DICM")
        handle = DicomFileLike(raw)
        write_file_meta_info(handle, dataset.file_meta, enforce_standard=True)
        handle.is_little_endian, handle.is_implicit_VR = True, False
        write_dataset(handle, dataset)
    return path


# --------------------------------------------------------------------------------------
# DICOM: unknown transfer syntaxes, truncated files, copies of one image
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("syntax", ["1.3.46.670589.33.1.4.1", "1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.112"],
                         ids=["philips-private", "jpeg-xl-lossless", "jpeg-xl"])
def test_a_transfer_syntax_pydicom_does_not_know_is_an_error_line_and_the_run_goes_on(tmp_path, run, syntax):
    before = tmp_path / "a_before"
    before.mkdir()
    shutil.copy(MR_SMALL, before / "good.dcm")
    odd = write_with_syntax(tmp_path / "b_odd.dcm", mr_dataset(SeriesInstanceUID=generate_uid()), syntax)

    status, records, _ = run(before, odd)

    assert status == 1
    assert [r.get("slice") for r in records if r["file"].startswith(str(before))] == [0, None]  # scored, summarised
    [error] = [r for r in records if r["file"] == str(odd)]
    assert syntax in error["error"] and "pydicom" in error["error"] and "uncompressed" in error["error"]


@pytest.mark.parametrize("cut", ["first-300-bytes", "pydicom-MR_truncated", "inside-pixel-data"])
def test_a_truncated_dicom_file_says_truncated_or_corrupt(tmp_path, run, cut):
    path = tmp_path / "cut.dcm"
    if cut == "first-300-bytes":
        path.write_bytes(MR_SMALL.read_bytes()[:300])
    elif cut == "pydicom-MR_truncated":
        shutil.copy(PYDICOM_FILES / "MR_truncated.dcm", path)
    else:
        path.write_bytes(MR_SMALL.read_bytes()[:9000])

    status, [record], _ = run(path)

    assert status == 1 and record["file"] == str(path)
    assert "truncated or corrupt file" in record["error"] and "DICOMDIR" not in record["error"]


def test_copies_of_one_sop_instance_are_scored_once_with_a_line_for_each_copy(tmp_path, run):
    folder = tmp_path / "copies"
    folder.mkdir()
    shutil.copy(MR_SMALL, folder / "MR_small.dcm")
    for name in MR_SMALL_COPIES:
        shutil.copy(PYDICOM_FILES / name, folder / name)
    for sibling in ("a", "b"):  # the same file again in two sibling folders
        (folder / sibling).mkdir()
        shutil.copy(MR_SMALL, folder / sibling / "MR_small.dcm")

    status, records, _ = run(folder)

    assert status == 0
    slices = [r for r in records if "slice" in r]
    [summary] = [r for r in records if "slices" in r]
    skipped = [r for r in records if "skipped" in r]
    assert len(slices) == 1 and summary["slices"] == 1 and summary["slices_at_or_over_threshold"] <= 1
    assert len(skipped) == len(MR_SMALL_COPIES) + 2
    assert all("same SOPInstanceUID" in r["skipped"] and slices[0]["file"] in r["skipped"] for r in skipped)


def test_pydicoms_dicomdir_disc_is_read_file_by_file(run):
    """pydicom's DICOMDIR test disc: index files, CR and CT images, MR localisers of three
    orientations in one series, all without suffixes: every file gets its line, no traceback."""
    disc = PYDICOM_FILES / "dicomdirtests"
    status, records, _ = run(disc)

    assert status == 1
    assert all(r["skipped"].startswith("a DICOMDIR") for r in records if Path(r["file"]).name.startswith("DICOMDIR"))
    errors = [r["error"] for r in records if "error" in r]
    assert errors and all("not MR" in error or "series (" in error for error in errors)
    assert [r for r in records if "slices" in r and "orientations" in r.get("note", "")]  # a split localiser
    assert all(r["model"] == roles.default_model() for r in records)


# --------------------------------------------------------------------------------------
# DICOM: one orientation per series, axial only, slice 0 inferior
# --------------------------------------------------------------------------------------


def _series(folder: Path, orientation, positions, values=None, uid=None) -> list[Path]:
    """MR_small.dcm as a series of new instances at `positions`, with `orientation`."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = uid or generate_uid()
    paths = []
    for k, position in enumerate(positions):
        dataset = mr_dataset(SeriesInstanceUID=uid, ImageOrientationPatient=list(orientation),
                             ImagePositionPatient=list(position), InstanceNumber=k + 1)
        if values is not None:
            pixels = np.full((64, 64), values[k], dtype=np.int16)
            dataset.PixelData = pixels.tobytes()
            del dataset.WindowCenter, dataset.WindowWidth
        paths.append(folder / f"im{k}.dcm")
        dataset.save_as(paths[-1])
    return paths


def test_an_axial_series_starts_at_the_inferior_end_whichever_way_its_normal_points(tmp_path, run):
    # columns running posterior -> anterior: row x column points inferior; slice 0 must still be the lowest z
    heights = [30.0, 10.0, 20.0]
    paths = _series(tmp_path / "axial", (1, 0, 0, 0, -1, 0), [(0, 0, z) for z in heights], values=[300, 100, 200])

    status, records, _ = run(tmp_path / "axial")

    assert status == 0
    assert [r["file"] for r in records if "slice" in r] == [str(paths[1]), str(paths[2]), str(paths[0])]


@pytest.mark.parametrize(("orientation", "plane"),
                         [((0, 1, 0, 0, 0, -1), "sagittal"), ((1, 0, 0, 0, 0, -1), "coronal")])
def test_a_sagittal_or_coronal_series_is_refused_with_a_line_saying_why(tmp_path, run, orientation, plane):
    _series(tmp_path / plane, orientation, [(x, 0, 0) for x in range(3)] if plane == "sagittal" else
            [(0, y, 0) for y in range(3)])

    status, [record], _ = run(tmp_path / plane)

    assert status == 1 and record["file"] == str(tmp_path / plane)
    assert f"{plane} series" in record["error"] and "axial" in record["error"] and "dcm2niix" in record["error"]


def test_a_series_of_two_orientations_is_read_one_orientation_at_a_time(tmp_path, run):
    uid = generate_uid()
    _series(tmp_path / "mixed" / "ax", (1, 0, 0, 0, 1, 0), [(0, 0, z) for z in range(3)], uid=uid)
    _series(tmp_path / "mixed" / "sag", (0, 1, 0, 0, 0, -1), [(x, 0, 0) for x in range(2)], uid=uid)

    status, records, _ = run(tmp_path / "mixed")

    assert status == 1  # the sagittal part is refused
    [summary] = [r for r in records if "slices" in r]
    assert summary["slices"] == 3 and "2 orientations" in summary["note"] and "axial" in summary["note"]
    assert all("/ax/" in r["file"] for r in records if "slice" in r)
    [refused] = [r for r in records if "error" in r]
    assert "sagittal series (2 files" in refused["error"]


# --------------------------------------------------------------------------------------
# No signal: blank volumes and series
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fill", [0.0, np.nan], ids=["all-zero", "all-nan"])
def test_a_nifti_volume_without_signal_is_an_error(tmp_path, run, fill):
    from nibabel.testing import data_path

    real = nibabel.load(Path(data_path) / "anatomical.nii")
    blank = nibabel.Nifti1Image(np.full(real.shape, fill, dtype=np.float32), real.affine)
    nibabel.save(blank, tmp_path / "blank.nii.gz")

    status, [record], _ = run(tmp_path / "blank.nii.gz")

    assert status == 1 and "no signal in the volume" in record["error"]


def test_a_dicom_series_without_signal_is_an_error(tmp_path, run):
    _series(tmp_path / "blank", (1, 0, 0, 0, 1, 0), [(0, 0, z) for z in range(3)], values=[0, 0, 0])

    status, [record], _ = run(tmp_path / "blank")

    assert status == 1 and "no signal in the series" in record["error"]


# --------------------------------------------------------------------------------------
# Pictures: 16-bit MR values, one rule for which files are read, link loops
# --------------------------------------------------------------------------------------


def test_a_16_bit_png_of_mr_values_follows_the_dicom_percentile_rule(tmp_path):
    pixels = pydicom.dcmread(MR_SMALL).pixel_array  # real MR values, 127..2145
    assert pixels.max() > 2000
    Image.fromarray(pixels.astype(np.uint16)).save(tmp_path / "mr16.png")
    dataset = mr_dataset()
    del dataset.WindowCenter, dataset.WindowWidth  # a DICOM slice without a window: the percentile rule
    dataset.save_as(tmp_path / "nowindow.dcm")
    from braintumor.data import dicom

    [group] = dicom.group_series([dicom.read_header(tmp_path / "nowindow.dcm")])
    [(_, as_dicom)] = dicom.read_series(group).slices

    picture = read_scan(tmp_path / "mr16.png")

    np.testing.assert_array_equal(picture, as_dicom)
    np.testing.assert_array_equal(picture, to_model_size(linear_to_grey(pixels, *percentile_range(pixels))))
    assert picture.mean() > 40  # not the near-black picture of dividing by 257 (mean about 3)


def test_one_rule_for_named_files_and_files_in_a_folder(tmp_path, run):
    real = np.asarray(Image.open(_real_picture()).convert("L"))
    folder = tmp_path / "folder"
    folder.mkdir()
    Image.fromarray(real).save(folder / "scan.gif")
    Image.fromarray(real).save(folder / "scan_png_without_suffix", format="PNG")
    shutil.copy(MR_SMALL, folder / "IM0001")  # DICOM without a suffix, as scanners write them

    status, records, _ = run(folder)
    by_name = {Path(r["file"]).name: r for r in records if "slices" not in r}  # a one-file series: slice, summary
    assert status == 0
    assert by_name["scan.gif"]["skipped"] == "not an image file"
    assert "probability" in by_name["scan_png_without_suffix"] and "slice" in by_name["IM0001"]

    status, records, _ = run(folder / "scan.gif", folder / "scan_png_without_suffix", folder / "IM0001")
    by_name = {Path(r["file"]).name: r for r in records if "slices" not in r}
    assert status == 1
    assert "not an image file" in by_name["scan.gif"]["error"] and "convert" in by_name["scan.gif"]["error"]
    assert "probability" in by_name["scan_png_without_suffix"] and "slice" in by_name["IM0001"]


def _real_picture() -> Path:
    """A real 240x240 test image of the Kaggle set when the shared data is there, else a PNG
    of MR_small's pixels windowed to 8 bits."""
    shared = config.REPO_ROOT.parent / "shared" / "data" / "brain-tumor" / "Brain Tumor" / "Brain Tumor" / "Image1.jpg"
    if shared.is_file():
        return shared
    path = Path(os.environ.get("TMPDIR", "/tmp")) / "braintumor_mr_small.png"
    Image.fromarray(np.clip(pydicom.dcmread(MR_SMALL).pixel_array / 8, 0, 255).astype(np.uint8)).save(path)
    return path


def test_a_symbolic_link_loop_is_skipped_and_the_rest_is_scored(tmp_path, run):
    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copy(_real_picture(), folder / "good.jpg")
    os.symlink("b", folder / "a")  # a -> b -> a
    os.symlink("a", folder / "b")
    os.symlink(folder, folder / "again")  # a link back to the folder itself: walked once

    status, records, _ = run(folder)

    assert status == 0
    assert [r["file"] for r in records if "probability" in r] == [str(folder / "good.jpg")]
    assert {Path(r["file"]).name for r in records if "skipped" in r} == {"a", "b"}
    assert all("link" in r["skipped"] for r in records if "skipped" in r)
    status, [record], _ = run(folder / "a")
    assert status == 1 and "link loop" in record["error"]


# --------------------------------------------------------------------------------------
# Every line names the model and the runtime
# --------------------------------------------------------------------------------------


def test_every_json_line_names_the_model_and_the_runtime(tmp_path, run):
    shutil.copy(_real_picture(), tmp_path / "good.jpg")
    (tmp_path / "notes.txt").write_text("not a scan")
    (tmp_path / "broken.png").write_text("not a picture")
    shutil.copy(MR_SMALL, tmp_path / "one.dcm")

    status, records, _ = run(tmp_path)

    assert status == 1
    assert {"error", "skipped", "probability", "slices"} <= {key for r in records for key in r}
    assert all(r["model"] == roles.default_model() and r["runtime"] == "onnx" for r in records)


# --------------------------------------------------------------------------------------
# Models: a .onnx path, a model that cannot be found, the README's Keras snippet
# --------------------------------------------------------------------------------------


def test_an_onnx_path_names_its_model_and_gets_its_own_threshold(run):
    from braintumor.models.specs import SPECS
    from braintumor.predict import default_threshold, input_check_rule

    for name, spec in SPECS.items():
        onnx = config.REPO_ROOT / spec.file.with_suffix(".onnx")
        if not onnx.is_file():
            continue
        card = json.loads(onnx.with_name("card.json").read_text())
        assert default_threshold(onnx) == (card["threshold"], None)
        assert input_check_rule(onnx)[0] is not None
        status, [record], err = run(_real_picture(), "--model", onnx)
        assert status == 0 and record["model"] == name and record["runtime"] == "onnx"
        assert "another version" not in err and "note:" not in err


def test_a_model_that_is_nowhere_says_where_to_run_from(tmp_path, monkeypatch, capsys):
    from braintumor.models import configs
    from braintumor.predict import models

    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(models, "SHIPPED_DIR", tmp_path / "site-packages" / "braintumor" / "shipped_models")
    monkeypatch.setattr(configs, "SHIPPED_DIR", tmp_path / "site-packages" / "braintumor" / "shipped_models")
    monkeypatch.chdir(tmp_path)

    status = main(["predict", str(_real_picture())])

    assert status == 2
    assert "model not found: run from the clone or pass --model" in capsys.readouterr().err


def test_models_submodules_import_without_tensorflow():
    code = ("import sys; sys.modules['keras'] = sys.modules['tensorflow'] = None\n"  # as in the light install
            "import braintumor.models\n"
            "from braintumor.models import specs, onnx_runtime\nfrom braintumor.studies import loso\n"
            "print(specs.DEFAULT_MODEL, loso.__name__, onnx_runtime.__name__)")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                              cwd=config.REPO_ROOT)
    assert finished.returncode == 0, finished.stderr
    code = ("import sys\nfrom braintumor.models import specs, onnx_runtime\nfrom braintumor.studies import loso\n"
            "print(sorted(name for name in ('keras', 'tensorflow') if name in sys.modules))")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                              cwd=config.REPO_ROOT)
    assert finished.stdout.strip() == "[]", finished.stderr


def test_the_readmes_keras_snippet_loads_the_shipped_model():
    """docs/predict.md: "import `braintumor.models.layers` before `keras.models.load_model`"."""
    pytest.importorskip("keras")
    code = ("import braintumor.models.layers\nimport keras\n"
            "model = keras.models.load_model('model/new-scans/model.keras')\nprint(model.input_shape, model.output_shape)")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                              cwd=config.REPO_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip().splitlines()[-1] == "(None, 240, 240, 1) (None, 2)"


def test_importing_braintumor_models_alone_registers_nothing():
    """Registration is explicit: `import braintumor.models` patches no import machinery, so
    plain Keras, without `braintumor.models.layers`, does not know the package's layers."""
    pytest.importorskip("keras")
    code = ("import sys, braintumor.models\nhooks = [type(f).__name__ for f in sys.meta_path if 'braintumor' in type(f).__module__]\n"
            "import keras\n"
            "print(hooks, keras.saving.get_registered_object('braintumor>HeadCrop'))\n"
            "import braintumor.models.layers\n"
            "print(keras.saving.get_registered_object('braintumor>HeadCrop').__name__)")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                              cwd=config.REPO_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip().splitlines()[-2:] == ["[] None", "HeadCrop"]


def test_one_scan_enters_the_predict_package_init_at_most_twice(tmp_path):
    """The command's path through `braintumor.predict`: its `__init__` holds `run` and hands
    on to `records`, `models` and `scoring`, which never call back into it."""
    import braintumor.predict

    shutil.copy(_real_picture(), tmp_path / "scan.jpg")
    init = braintumor.predict.__file__
    calls = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename == init:
            calls.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        status = main(["predict", str(tmp_path / "scan.jpg"), "--json"])
    finally:
        sys.setprofile(None)
    assert status == 0 and len(calls) <= 2, calls
