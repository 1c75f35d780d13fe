"""`braintumor predict`: every input kind, output formats, threshold, bad files, Grad-CAM.

The model is a tiny untrained CNN built once per module: the tests check the command's
plumbing, not the model's accuracy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from braintumor import config
from braintumor.cli import main
from braintumor.models import configs
from braintumor.data.images import ImageReadError, read_scan


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from braintumor.models.networks import build_improved_cnn, save_for_inference

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    save_for_inference(build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1), path)
    return path


def copy_model(source, target):
    """Copy a model file and its ONNX export (what `save_for_inference` writes) to `target`."""
    shutil.copy(source, target)
    shutil.copy(source.with_suffix(".onnx"), target.with_suffix(".onnx"))


def _noise(shape, seed=0, high=256, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, high, shape).astype(dtype)


def make_every_kind(folder):
    """One file per supported input kind; returns their paths, sorted by name."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_noise((240, 240), 1)).save(folder / "a_grey.jpg")
    Image.fromarray(_noise((240, 240, 3), 2)).save(folder / "b_rgb.jpg")
    Image.fromarray(_noise((240, 240, 4), 3)).save(folder / "c_rgba.png")
    Image.fromarray(_noise((240, 240), 4)).convert("P").save(folder / "d_palette.png")
    Image.fromarray(_noise((240, 240), 5, high=65536, dtype=np.uint16)).save(folder / "e_grey16.png")
    Image.fromarray(_noise((200, 300), 6)).save(folder / "f_odd size 300x200.png")
    Image.fromarray(_noise((240, 240, 2), 7)).convert("LA").save(folder / "g_grey_alpha.png")
    Image.fromarray(_noise((240, 240), 8)).save(folder / "h_bitmap.bmp")
    Image.fromarray(_noise((240, 240), 9)).save(folder / "i_tiff.tif")
    return sorted(folder.iterdir())


# --------------------------------------------------------------------------------------
# Reading one file
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("L", (240, 240), 100), 100),
        (Image.new("RGB", (240, 240), (100, 100, 100)), 100),
        (Image.new("RGBA", (240, 240), (255, 255, 255, 0)), 0),  # transparent: black background
        (Image.new("RGBA", (240, 240), (200, 200, 200, 255)), 200),
        (Image.new("LA", (240, 240), (90, 255)), 90),
        (Image.new("L", (240, 240), 60).convert("P"), 60),
        (Image.fromarray(np.full((240, 240), 257 * 100, dtype=np.uint16)), 0),  # I;16, one value: no contrast
        (Image.new("L", (300, 200), 77), 77),  # odd size: resized to 240x240
    ],
    ids=["grey", "rgb", "rgba-transparent", "rgba-opaque", "la", "palette", "16bit-flat", "300x200"],
)
def test_read_scan_maps_each_mode_to_240_grey(tmp_path, image, expected):
    path = tmp_path / "scan.png"
    image.save(path)
    scan = read_scan(path)
    assert scan.shape == (config.IMAGE_SIZE, config.IMAGE_SIZE)
    assert scan.dtype == np.uint8
    assert np.all(scan == expected)


def test_read_scan_explains_unusable_files(tmp_path):
    (tmp_path / "x.jpg").write_text("not an image")
    Image.fromarray(_noise((240, 240))).save(tmp_path / "whole.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "whole.jpg").read_bytes()[:2000])
    with pytest.raises(ImageReadError, match="not an image"):
        read_scan(tmp_path / "x.jpg")
    with pytest.raises(ImageReadError, match="corrupt"):
        read_scan(tmp_path / "cut.jpg")
    with pytest.raises(ImageReadError, match="no such file"):
        read_scan(tmp_path / "missing.png")


# --------------------------------------------------------------------------------------
# The command, in-process
# --------------------------------------------------------------------------------------


def test_predicts_every_input_kind_and_folders(tmp_path, model_path, capsys):
    files = make_every_kind(tmp_path / "scans")
    single = tmp_path / "name with spaces.png"
    Image.fromarray(_noise((240, 240), 10)).save(single)

    status = main(["predict", str(single), str(tmp_path / "scans"), "--model", str(model_path)])
    out, err = capsys.readouterr()

    assert status == 0
    lines = [line.split("\t") for line in out.splitlines()]
    assert [line[0] for line in lines] == [str(single)] + [str(path) for path in files]
    for _, probability, label in lines:
        assert 0.0 <= float(probability) <= 1.0
        assert label in config.CLASS_NAMES
    assert "no threshold" in err and "0.5" in err  # no metrics.json beside the model


def test_json_lines_have_file_probability_label_and_model(tmp_path, model_path, capsys):
    files = make_every_kind(tmp_path)

    status = main(["predict", *map(str, files), "--model", str(model_path), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 0
    assert [record["file"] for record in records] == [str(path) for path in files]
    for record in records:
        assert set(record) == {"schema", "file", "probability", "label", "model", "runtime"}
        assert record["model"] == str(model_path)  # a file that is no named model: named by its path
        assert 0.0 <= record["probability"] <= 1.0
        assert record["label"] == int(record["probability"] >= 0.5)


@pytest.mark.parametrize(("threshold", "label"), [("0.0", 1), ("1.01", 0)])
def test_threshold_flag_sets_the_labels(tmp_path, model_path, capsys, threshold, label):
    files = make_every_kind(tmp_path)

    main(["predict", str(tmp_path), "--model", str(model_path), "--json", "--threshold", threshold])
    out, err = capsys.readouterr()

    assert [json.loads(line)["label"] for line in out.splitlines()] == [label] * len(files)
    assert "no threshold" not in err


def test_default_threshold_comes_from_the_card_beside_the_model(tmp_path, model_path, capsys):
    model_copy = tmp_path / "model" / "mine" / "model.keras"
    model_copy.parent.mkdir(parents=True)
    copy_model(model_path, model_copy)
    (model_copy.parent / "card.json").write_text(json.dumps({"threshold": 0.0}))
    files = make_every_kind(tmp_path / "scans")

    main(["predict", str(tmp_path / "scans"), "--model", str(model_copy), "--json"])
    out, err = capsys.readouterr()

    records = [json.loads(line) for line in out.splitlines()]
    assert [record["label"] for record in records] == [1] * len(files)
    assert all("warning" not in record for record in records)  # no input_check rule: no warnings
    assert "no threshold" not in err


# --------------------------------------------------------------------------------------
# Folders: searched recursively, one line per file met
# --------------------------------------------------------------------------------------


def make_class_folders(root):
    """A downloaded-dataset layout: class folders, a notes file, hidden entries, a link loop.

    Returns the image files predict should report, in its order."""
    (root / "yes" / "deeper").mkdir(parents=True)
    (root / "no").mkdir()
    (root / ".cache").mkdir()
    images = [root / "no" / "n1.jpg", root / "yes" / "deeper" / "y2.png", root / "yes" / "y1.png"]
    for seed, path in enumerate(images):
        Image.fromarray(_noise((240, 240), seed)).save(path)
    Image.fromarray(_noise((240, 240), 9)).save(root / ".hidden.png")
    Image.fromarray(_noise((240, 240), 9)).save(root / ".cache" / "thumb.png")
    (root / "no" / "notes.txt").write_text("scanned 2024")
    (root / "yes" / "loop").symlink_to(root, target_is_directory=True)  # yes/loop/yes/loop/...
    return images


def test_folders_are_searched_recursively_one_json_line_per_file(tmp_path, model_path, capsys):
    images = make_class_folders(tmp_path / "Testing")

    status = main(["predict", str(tmp_path / "Testing"), "--model", str(model_path), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 0  # a skipped file is not a failure
    notes = tmp_path / "Testing" / "no" / "notes.txt"
    assert [record["file"] for record in records] == [str(images[0]), str(notes), *map(str, images[1:])]
    assert records[1] == {"schema": 1, "file": str(notes), "skipped": "not an image file", "model": str(model_path),
                          "runtime": "onnx"}
    for record in records[:1] + records[2:]:
        assert set(record) == {"schema", "file", "probability", "label", "model", "runtime"}


def test_skipped_files_are_noted_on_stderr_in_text_mode(tmp_path, model_path, capsys):
    images = make_class_folders(tmp_path / "Testing")

    status = main(["predict", str(tmp_path / "Testing"), "--model", str(model_path)])
    out, err = capsys.readouterr()

    assert status == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(path) for path in images]
    assert f"{tmp_path / 'Testing' / 'no' / 'notes.txt'}\tskipped: not an image file" in err.splitlines()
    assert "hidden" not in err and "thumb" not in err and "loop" not in out + err


def test_folder_without_images_below_it_is_an_error(tmp_path, model_path, capsys):
    (tmp_path / "docs" / "inner").mkdir(parents=True)
    (tmp_path / "docs" / "inner" / "notes.txt").write_text("no scans here")

    status = main(["predict", str(tmp_path / "docs"), "--model", str(model_path), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 1
    assert records[0]["file"] == str(tmp_path / "docs") and "no images" in records[0]["error"]
    assert records[1]["file"] == str(tmp_path / "docs" / "inner" / "notes.txt")
    assert records[1]["skipped"] == "not an image file"


# --------------------------------------------------------------------------------------
# The input check: warnings for scans unlike the training data
# --------------------------------------------------------------------------------------


def _small_head(radius):
    """A black picture with a grey disc of `radius` px in the middle (a stripped brain)."""
    rows, cols = np.mgrid[:240, :240]
    return np.where(np.hypot(rows - 120, cols - 120) <= radius, 120, 0).astype(np.uint8)


@pytest.fixture
def model_with_rule(tmp_path, model_path):
    """A copy of the tiny model whose card holds an input-check rule fitted on small heads."""
    from braintumor.data.input_check import fit_input_check

    model_copy = tmp_path / "model" / "mine" / "model.keras"
    model_copy.parent.mkdir(parents=True)
    copy_model(model_path, model_copy)
    rule = fit_input_check(np.stack([_small_head(radius) for radius in range(40, 61)]))
    (model_copy.parent / "card.json").write_text(json.dumps({"threshold": 0.5, "input_check": rule}))
    return model_copy


def test_scans_outside_the_input_check_get_a_warning(tmp_path, model_with_rule, capsys):
    typical, big = tmp_path / "typical.png", tmp_path / "big head.png"
    Image.fromarray(_small_head(50)).save(typical)
    Image.fromarray(_small_head(110)).save(big)

    status = main(["predict", str(typical), str(big), "--model", str(model_with_rule), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 0
    assert set(records[0]) == {"schema", "file", "probability", "label", "model", "runtime"}
    assert set(records[1]) == {"schema", "file", "probability", "label", "model", "runtime", "warning"}
    assert "head fills" in records[1]["warning"] and "training:" in records[1]["warning"]

    main(["predict", str(typical), str(big), "--model", str(model_with_rule)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines[0].split("\t")) == 3
    assert lines[1].split("\t")[3] == f"warning: {records[1]['warning']}"


def test_an_unusable_input_check_rule_is_noted_and_ignored(tmp_path, model_path, capsys):
    model_copy = tmp_path / "model" / "mine" / "model.keras"
    model_copy.parent.mkdir(parents=True)
    copy_model(model_path, model_copy)
    (model_copy.parent / "card.json").write_text(json.dumps({"threshold": 0.5, "input_check": {"bounds": {}}}))
    Image.fromarray(_small_head(110)).save(tmp_path / "scan.png")

    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(model_copy), "--json"])
    out, err = capsys.readouterr()

    assert status == 0
    assert "warning" not in json.loads(out)
    assert "note:" in err and "input_check" in err and "card.json" in err


def test_batches_give_the_same_results_in_the_same_order(tmp_path, model_path, capsys):
    make_every_kind(tmp_path)

    main(["predict", str(tmp_path), "--model", str(model_path), "--json"])
    whole = capsys.readouterr().out
    main(["predict", str(tmp_path), "--model", str(model_path), "--json", "--batch-size", "2"])
    in_pairs = capsys.readouterr().out

    whole_records = [json.loads(line) for line in whole.splitlines()]
    pair_records = [json.loads(line) for line in in_pairs.splitlines()]
    assert [r["file"] for r in pair_records] == [r["file"] for r in whole_records]
    np.testing.assert_allclose(
        [r["probability"] for r in pair_records], [r["probability"] for r in whole_records], atol=1e-5
    )


def _bad_and_good_inputs(folder):
    folder.mkdir()
    good = folder / "good.png"
    Image.fromarray(_noise((240, 240))).save(good)
    text = folder / "x.jpg"
    text.write_text("this is text, not a JPEG")
    whole = folder / "whole.jpg"
    Image.fromarray(_noise((240, 240), 3)).save(whole)
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(whole.read_bytes()[:1500])
    whole.unlink()
    empty = folder / "empty folder"
    empty.mkdir()
    missing = folder / "missing.png"
    return good, {text: "not an image", truncated: "corrupt", empty: "no images", missing: "no such file"}


def test_bad_inputs_get_error_lines_and_exit_1_while_good_ones_are_predicted(tmp_path, model_path, capsys):
    good, bad = _bad_and_good_inputs(tmp_path / "in")

    status = main(["predict", str(good), *map(str, bad), "--model", str(model_path)])
    out, err = capsys.readouterr()

    assert status == 1
    assert out.splitlines()[0].startswith(f"{good}\t")
    assert len(out.splitlines()) == 1  # errors go to stderr in text mode
    for path, reason in bad.items():
        assert any(line.startswith(f"{path}\terror:") and reason in line for line in err.splitlines())
    assert "Traceback" not in err


def test_bad_inputs_in_json_mode_are_json_error_lines_on_stdout(tmp_path, model_path, capsys):
    good, bad = _bad_and_good_inputs(tmp_path / "in")

    status = main(["predict", str(good), *map(str, bad), "--model", str(model_path), "--json"])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]

    assert status == 1
    assert set(records[0]) == {"schema", "file", "probability", "label", "model", "runtime"}
    assert [record["file"] for record in records[1:]] == [str(path) for path in bad]
    for record, reason in zip(records[1:], bad.values()):
        assert set(record) == {"schema", "file", "error", "model", "runtime"} and reason in record["error"]
    assert "Traceback" not in err


@pytest.mark.parametrize("content", [None, b"not a zip archive"], ids=["missing", "corrupt"])
def test_unusable_model_is_exit_2_with_a_message(tmp_path, capsys, content):
    model = tmp_path / "model.keras"
    if content is not None:
        model.write_bytes(content)
    Image.fromarray(_noise((240, 240))).save(tmp_path / "scan.png")

    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(model)])
    err = capsys.readouterr().err

    assert status == 2
    assert "error:" in err and str(model) in err
    assert "Traceback" not in err


def test_gradcam_flag_writes_one_overlay_per_image_with_unique_names(tmp_path, model_path, capsys):
    for folder in ("first", "second"):  # the same file name in two folders
        (tmp_path / folder).mkdir()
        Image.fromarray(_noise((240, 240))).save(tmp_path / folder / "scan.png")
    Image.fromarray(_noise((200, 300), 4)).save(tmp_path / "first" / "other scan.jpg")
    overlays = tmp_path / "cams"

    status = main([
        "predict", str(tmp_path / "first"), str(tmp_path / "second"),
        "--model", str(model_path), "--gradcam", str(overlays),
    ])
    capsys.readouterr()

    assert status == 0
    names = sorted(path.name for path in overlays.iterdir())
    assert names == ["other scan_gradcam.png", "scan_2_gradcam.png", "scan_gradcam.png"]
    for name in names:
        with Image.open(overlays / name) as overlay:
            assert overlay.mode == "RGB" and overlay.width == config.IMAGE_SIZE


# --------------------------------------------------------------------------------------
# The command as a process
# --------------------------------------------------------------------------------------


def test_module_entry_point_exit_status_end_to_end(tmp_path, model_path):
    good = tmp_path / "good scan.png"
    Image.fromarray(_noise((240, 240))).save(good)
    missing = tmp_path / "missing.png"

    finished = subprocess.run(
        [sys.executable, "-m", "braintumor", "predict", str(good), str(missing), "--model", str(model_path)],
        cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=120,
    )

    assert finished.returncode == 1
    assert finished.stdout.startswith(f"{good}\t")
    assert f"{missing}\terror: no such file" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_model_names_resolve_to_their_files_and_are_reported(tmp_path):
    from braintumor.models.specs import DEFAULT_MODEL, SPECS
    from braintumor.predict import PredictError, resolve_model

    from braintumor.models import roles

    for name, spec in SPECS.items():
        path = config.REPO_ROOT / spec.file
        if roles.role(name) == "study record":  # not offered by name; its path runs it
            with pytest.raises(PredictError, match=f"study record, not offered by name.*--model {spec.file}"):
                resolve_model(name)
        elif path.exists() or path.with_suffix(".onnx").exists():
            assert resolve_model(name) == (path, name)
        else:  # a spec whose model is not trained yet
            with pytest.raises(PredictError, match="model not found: run from the clone or pass --model"):
                resolve_model(name)
    assert resolve_model(None)[1] == DEFAULT_MODEL
    # a file in a model folder (or a copy of the folder) is reported by its model's name; any other by its path
    import shutil

    shutil.copy(config.REPO_ROOT / configs.model_dir("two-source") / "config.toml", tmp_path / "config.toml")
    assert resolve_model(str(tmp_path / "model.keras"))[1] == "two-source"
    assert resolve_model(str(tmp_path / "model.onnx"))[1] == "two-source"
    assert resolve_model(str(tmp_path / "elsewhere" / "mine.keras"))[1] == str(tmp_path / "elsewhere" / "mine.keras")
    with pytest.raises(PredictError, match="neither a model name"):
        resolve_model("three-source")


def test_each_model_folder_reads_its_own_threshold_from_its_card(tmp_path, model_path, capsys):
    import shutil

    for name, threshold in (("single-source", 0.0), ("two-source", 1.0)):
        folder = tmp_path / "model" / name
        folder.mkdir(parents=True)
        copy_model(model_path, folder / "model.keras")
        shutil.copy(config.REPO_ROOT / configs.model_dir(name) / "config.toml", folder / "config.toml")
        (folder / "card.json").write_text(json.dumps({"threshold": threshold}))
    files = make_every_kind(tmp_path / "scans")
    labels = {}
    for name in ("single-source", "two-source"):
        main(["predict", *map(str, files), "--model", str(tmp_path / "model" / name / "model.keras"), "--json"])
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        labels[name] = {record["label"] for record in records}
        assert {record["model"] for record in records} == {name}
    # threshold 0 calls everything tumour; the two-source card's 1.0 calls nothing tumour (the tiny model is never that sure)
    assert labels == {"single-source": {1}, "two-source": {0}}


# --------------------------------------------------------------------------------------
# Runtimes: ONNX by default, Keras when asked, for Grad-CAM, or without a usable export
# --------------------------------------------------------------------------------------


def test_onnx_scores_by_default_and_keras_when_asked_alike(tmp_path, model_path, capsys):
    files = make_every_kind(tmp_path)
    runs = {}
    for runtime in (None, "onnx", "keras"):
        main(["predict", *map(str, files), "--model", str(model_path), "--json"]
             + ([] if runtime is None else ["--runtime", runtime]))
        out, err = capsys.readouterr()
        runs[runtime] = [json.loads(line) for line in out.splitlines()]
        assert "scoring with keras" not in err  # the export beside the model is used, no fallback
    assert {record["runtime"] for record in runs[None]} == {"onnx"} == {record["runtime"] for record in runs["onnx"]}
    assert {record["runtime"] for record in runs["keras"]} == {"keras"}
    np.testing.assert_allclose([r["probability"] for r in runs[None]], [r["probability"] for r in runs["keras"]],
                               atol=1e-4)
    assert [r["label"] for r in runs[None]] == [r["label"] for r in runs["keras"]]


def test_without_an_export_keras_scores_with_a_note_unless_onnx_was_asked_for(tmp_path, model_path, capsys):
    bare = tmp_path / "bare.keras"
    shutil.copy(model_path, bare)  # no bare.onnx beside it
    Image.fromarray(_noise((240, 240))).save(tmp_path / "scan.png")

    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(bare), "--json"])
    out, err = capsys.readouterr()
    assert status == 0 and json.loads(out)["runtime"] == "keras"
    assert "note:" in err and "no ONNX export" in err and "python -m braintumor.models.export" in err

    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(bare), "--runtime", "onnx"])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert "error: --runtime onnx" in err and str(bare.with_suffix(".onnx")) in err and "--runtime keras" in err


def test_gradcam_uses_keras_and_says_so_when_onnx_was_asked_for(tmp_path, model_path, capsys):
    Image.fromarray(_noise((240, 240))).save(tmp_path / "scan.png")

    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(model_path), "--json",
                   "--runtime", "onnx", "--gradcam", str(tmp_path / "cams")])
    out, err = capsys.readouterr()

    assert status == 0 and json.loads(out)["runtime"] == "keras"
    assert "--gradcam needs gradients" in err
    assert (tmp_path / "cams" / "scan_gradcam.png").is_file()


_PROBE = """
import sys
from braintumor.cli import main
status = main(sys.argv[1:])
heavy = ("tensorflow", "keras", "scipy", "sklearn", "pandas", "matplotlib", "pydicom", "nibabel")
print("LOADED", sorted({name.split(".")[0] for name in sys.modules if name.split(".")[0] in heavy}), status)
"""


def test_predict_on_a_picture_imports_no_tensorflow_keras_or_scipy(tmp_path):
    """The whole process, as a user runs it: the default model through its ONNX export. The
    default's card asks for a brain extraction (brain_extraction_default picked
    inference_only); its steps are NumPy's (data.morphology), and SciPy's watershed comes in
    only for a slice with a brain inside a shell, which a noise picture is not."""
    Image.fromarray(_noise((240, 240))).save(tmp_path / "scan.png")
    finished = subprocess.run([sys.executable, "-c", _PROBE, "predict", "--json", str(tmp_path / "scan.png")],
                              cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=120)
    record, probe = finished.stdout.splitlines()
    assert json.loads(record)["runtime"] == "onnx"
    assert probe == "LOADED [] 0", finished.stderr


def test_without_keras_installed_the_keras_runtime_says_what_to_install(tmp_path):
    Image.fromarray(_noise((240, 240))).save(tmp_path / "scan.png")
    hide = "import sys; sys.modules['keras'] = sys.modules['tensorflow'] = None\n"  # as if not installed
    finished = subprocess.run(
        [sys.executable, "-c", hide + _PROBE, "predict", str(tmp_path / "scan.png"), "--runtime", "keras"],
        cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert finished.stdout.strip().endswith(" 2")
    assert "pip install -r requirements.txt" in finished.stderr and "Traceback" not in finished.stderr


# --------------------------------------------------------------------------------------
# Volumes and series beside pictures
# --------------------------------------------------------------------------------------


def test_a_folder_mixing_pictures_dicom_and_nifti(tmp_path, capsys):
    import nibabel
    from test_dicom import write_dicom

    folder = tmp_path / "mixed"
    (folder / "series").mkdir(parents=True)
    Image.fromarray(_noise((240, 240))).save(folder / "a.png")
    for k in range(3):
        write_dicom(folder / "series" / f"im{2 - k}.dcm", _noise((240, 240), k), bits=8, window=(128, 256),
                    position=(0, 0, k), instance=k + 1)
    nibabel.save(nibabel.Nifti1Image(_noise((240, 240, 4), 9), np.eye(4)), folder / "z.nii.gz")
    (folder / "readme.txt").write_text("notes")

    status = main(["predict", str(folder), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 0
    kinds = [("skip" if "skipped" in r else "summary" if "slices" in r else "slice" if "slice" in r else "picture")
             for r in records]
    assert kinds == ["picture", "skip", "slice", "slice", "slice", "summary", "slice", "slice", "slice", "slice",
                     "summary"]
    assert [r["file"] for r in records[2:5]] == [str(folder / "series" / f"im{2 - k}.dcm") for k in range(3)]
    assert records[5]["file"] == str(folder / "series") and records[5]["slices"] == 3 and "series" in records[5]
    assert records[10]["file"] == str(folder / "z.nii.gz") and records[10]["slices"] == 4
    for summary in (records[5], records[10]):
        assert "probability" not in summary
        assert set(summary) >= {"schema", "file", "slices", "max_probability", "max_slice", "slices_at_or_over_threshold"}


# --------------------------------------------------------------------------------------
# Round trip: real test slices as a NIfTI volume and a DICOM series
# --------------------------------------------------------------------------------------


def _real_test_slices(count_per_class=12):
    """(files predict reads, their scans as predict sees them): real test rows of this
    dataset, the JPEGs themselves when the raw data is found, else PNGs of the packed rows
    (lossless, written by the caller). Skips when neither is present."""
    from braintumor.data.dataset import DataError, find_data_dir, load_npz
    from braintumor.data.splits import split_masks

    try:
        dataset = load_npz(config.REPO_ROOT / config.NPZ_PATH)
        test = split_masks(dataset.names, config.REPO_ROOT / config.SPLITS_PATH)["test"]
    except (DataError, OSError) as error:
        pytest.skip(f"no packed data ({error}); run `make data` with the Kaggle set (CI has it)")
    rows = np.concatenate([np.flatnonzero(test & (dataset.labels == label))[:count_per_class] for label in (0, 1)])
    try:
        image_dir = find_data_dir() / config.IMAGE_SUBDIR
        jpegs = [image_dir / f"{name}.jpg" for name in dataset.names[rows]]
        if all(path.is_file() for path in jpegs):
            return jpegs, None
    except DataError:
        pass
    return [f"{name}.png" for name in dataset.names[rows]], dataset.images[rows, ..., 0]


def test_real_slices_as_nifti_and_dicom_get_the_labels_of_the_pictures(tmp_path, capsys):
    """Tolerance: 1e-6 in probability (the same grey levels reach the model: the NIfTI volume
    carries one calibration slice of 255 so that its 0.5-99.5th percentiles are exactly 0 and
    255, and the DICOM series is 8-bit with window 128/256, the identity) and equal labels."""
    import nibabel
    from test_dicom import write_dicom

    files, packed = _real_test_slices()
    if packed is not None:
        files = [tmp_path / name for name in files]
        for path, scan in zip(files, packed):
            Image.fromarray(scan).save(path)
    scans = np.stack([read_scan(path) for path in files])

    ras = np.stack([scan.T[::-1, ::-1] for scan in scans] + [np.full((240, 240), 255)], axis=-1)
    nibabel.save(nibabel.Nifti1Image(ras.astype(np.uint8), np.eye(4)), tmp_path / "volume.nii.gz")
    series = tmp_path / "series"
    series.mkdir()
    order = np.random.default_rng(0).permutation(len(scans))  # file names and instance numbers shuffled
    for k, scan in enumerate(scans):
        write_dicom(series / f"{order[k]:03d}.dcm", scan, bits=8, window=(128, 256), position=(0, 0, 3.0 * k),
                    instance=int(order[k]) + 1)

    def predict(*paths):
        status = main(["predict", *map(str, paths), "--json", "--runtime", "onnx"])
        assert status == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    pictures = predict(*files)
    volume = [r for r in predict(tmp_path / "volume.nii.gz") if "slice" in r][:len(scans)]
    dicom_slices = [r for r in predict(series) if "slice" in r]
    for name, records in (("NIfTI", volume), ("DICOM", dicom_slices)):
        assert [r["label"] for r in records] == [r["label"] for r in pictures], name
        np.testing.assert_allclose([r["probability"] for r in records], [r["probability"] for r in pictures],
                                   atol=1e-6, err_msg=name)
    assert len({r["label"] for r in pictures}) == 2  # both classes among the slices


# --------------------------------------------------------------------------------------
# Preprocessing: the card's brain extraction runs on the scans before the network
# --------------------------------------------------------------------------------------

EXTRACTION_MODULE = "braintumor.data.brain_extraction"


class _Scorer:
    """Stands in for the network (no TensorFlow, no ONNX Runtime): P(tumour) is a scan's mean
    grey / 255; keeps every batch it is given."""

    def __init__(self):
        self.batches = []

    def predict_on_batch(self, batch):
        self.batches.append(np.array(batch))
        tumour = np.asarray(batch, dtype=np.float64).mean(axis=(1, 2, 3)) / 255
        return np.stack([1 - tumour, tumour], axis=1)


def _keep_centre(images):
    """The stand-in extraction: blacks out everything outside a disc of radius 50 (a 'brain')."""
    disc = _small_head(50) > 0
    return np.where(disc[..., np.newaxis] if images.ndim == 4 else disc, images, 0).astype(np.uint8)


@pytest.fixture
def extraction_spy(monkeypatch):
    """`braintumor.data.brain_extraction` replaced by a stand-in with its API (`METHODS`,
    `extract_brain(images, method)`) that records each call: (the images as given, the method)."""
    import types

    calls = []

    def extract_brain(images, method="classical-v1"):
        calls.append((np.array(images), method))
        if method not in module.METHODS:
            raise ValueError(f"unknown method {method!r}")
        return images if method == "none" else _keep_centre(images)

    module = types.ModuleType(EXTRACTION_MODULE)
    module.METHODS, module.extract_brain = ("none", "classical-v1"), extract_brain
    monkeypatch.setitem(sys.modules, EXTRACTION_MODULE, module)
    return calls


@pytest.fixture
def card_model(tmp_path, monkeypatch):
    """`write(card)`: a model folder whose card is `card` (None: no card), scored by a `_Scorer`
    (`scoring.load_runtime` patched: no weights needed); returns (the model file, the scorer)."""
    from braintumor.predict import scoring

    scorer = _Scorer()
    monkeypatch.setattr(scoring, "load_runtime", lambda path, runtime=None, gradcam=False: (scorer, "onnx", []))
    path = tmp_path / "model" / "mine" / "model.keras"
    path.parent.mkdir(parents=True)

    def write(card):
        if card is not None:
            (path.parent / "card.json").write_text(json.dumps(card, indent=1) + "\n")
        return path, scorer
    return write


def _big_head_scan(folder):
    path = folder / "big head.png"
    Image.fromarray(_small_head(110)).save(path)
    return path


def test_a_card_with_classical_v1_runs_the_extraction_before_the_network(tmp_path, card_model, extraction_spy,
                                                                          capsys):
    from braintumor.data.input_check import fit_input_check

    rule = fit_input_check(np.stack([_small_head(radius) for radius in range(40, 61)]))
    model, scorer = card_model({"threshold": 0.5, "input_check": rule,
                                "preprocessing": {"brain_extraction": "classical-v1"}})
    scan = _big_head_scan(tmp_path)

    status = main(["predict", str(scan), "--model", str(model), "--json"])
    out, err = capsys.readouterr()
    [record] = [json.loads(line) for line in out.splitlines()]

    assert status == 0 and "Traceback" not in err
    [(given, method)] = extraction_spy
    assert method == "classical-v1" and given.dtype == np.uint8 and given.shape == (1, 240, 240, 1)
    np.testing.assert_array_equal(given[0, ..., 0], read_scan(scan))  # the uint8 scan as read, as a stack of one
    [batch] = scorer.batches
    assert batch.dtype == np.float32 and batch.shape == (1, 240, 240, 1)
    np.testing.assert_array_equal(batch[..., 0], _keep_centre(given)[..., 0])  # the network sees the extracted scan
    assert record["probability"] == round(float(_keep_centre(given).mean() / 255), 6)
    assert record["preprocessing"] == "classical-v1"
    # the input check reads the scan as given: the big head warns though the extracted one would not
    assert "head fills" in record["warning"]


@pytest.mark.parametrize("card", [{"threshold": 0.5, "preprocessing": {"brain_extraction": "none"}},
                                  {"threshold": 0.5},  # a card written before the key: none
                                  {"threshold": 0.5, "preprocessing": {}},
                                  None],  # no card at all
                         ids=["none", "card-without-the-key", "empty-table", "no-card"])
def test_none_or_a_card_without_the_key_runs_no_extraction(tmp_path, card_model, extraction_spy, capsys, card):
    model, scorer = card_model(card)
    scan = _big_head_scan(tmp_path)

    status = main(["predict", str(scan), "--model", str(model), "--json"])
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 0 and extraction_spy == []
    np.testing.assert_array_equal(scorer.batches[0][0, ..., 0], read_scan(scan))
    assert set(record) == {"schema", "file", "probability", "label", "model", "runtime"}  # no preprocessing key


def test_a_none_card_imports_no_extraction_module(tmp_path, card_model, monkeypatch):
    """The extraction module is imported only for a method other than "none"."""
    from braintumor.predict.models import brain_extraction

    monkeypatch.setitem(sys.modules, EXTRACTION_MODULE, None)  # any import of it would fail
    model, _ = card_model({"threshold": 0.5, "preprocessing": {"brain_extraction": "none"}})
    assert brain_extraction(model) == "none"
    assert main(["predict", str(_big_head_scan(tmp_path)), "--model", str(model), "--json"]) == 0


@pytest.mark.parametrize("preprocessing", [{"brain_extraction": "foo"}, {"brain_extraction": 1}, "classical-v1"],
                         ids=["unknown-method", "not-a-string", "not-a-table"])
def test_a_bad_preprocessing_value_is_exit_2_naming_the_card_and_the_methods(tmp_path, card_model, extraction_spy,
                                                                            capsys, preprocessing):
    model, scorer = card_model({"threshold": 0.5, "preprocessing": preprocessing})

    status = main(["predict", str(_big_head_scan(tmp_path)), "--model", str(model), "--json"])
    out, err = capsys.readouterr()

    assert status == 2 and out == "" and scorer.batches == [] and extraction_spy == []
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(model.parent / "card.json") in err and "brain_extraction" in err
    if isinstance(preprocessing, dict):
        assert "'none', 'classical-v1'" in err


def test_gradcam_overlays_are_drawn_on_the_extracted_scans(tmp_path, extraction_spy, monkeypatch):
    from braintumor.predict import ChosenModel, run, scoring

    drawn = []
    monkeypatch.setattr(scoring, "_write_overlays", lambda scorer, batch, results, names: drawn.append(batch))
    scan = _big_head_scan(tmp_path)
    model = ChosenModel(name="mine", path=tmp_path / "model.keras", threshold=0.5, runtime="keras", scorer=_Scorer(),
                        preprocessing="classical-v1")

    assert run([scan], model, as_json=True, gradcam_dir=tmp_path / "cams") == 0
    [batch] = drawn
    np.testing.assert_array_equal(batch[..., 0], _keep_centre(read_scan(scan)[np.newaxis]))


def test_the_card_carries_the_configurations_preprocessing(monkeypatch):
    """`reports.cards` copies `[preprocessing] brain_extraction` from config.toml ("none" when absent)."""
    from braintumor.models import configs as model_configs
    from braintumor.reports import cards

    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    folder = config.REPO_ROOT / configs.model_dir("single-source")
    committed = json.loads((folder / "card.json").read_text())
    assert committed["preprocessing"] == {"brain_extraction": "none"}
    written = model_configs.load_config("single-source")
    for table, expected in (({"brain_extraction": "classical-v1"}, "classical-v1"), (None, "none")):
        changed = {key: value for key, value in written.items() if key != "preprocessing"}
        if table is not None:
            changed["preprocessing"] = table
        monkeypatch.setattr(model_configs, "load_config", lambda name, root=None, changed=changed: changed)
        card = cards.card("single-source", metrics, {}, folder, committed)
        assert card["preprocessing"] == {"brain_extraction": expected}


def test_with_the_real_extraction_module_predict_scores_what_it_returns(tmp_path, card_model, capsys):
    """Once `data.brain_extraction` is there: its methods are what a card may name, and predict
    scores exactly what `extract_brain` returns for the scans as read."""
    extraction = pytest.importorskip(EXTRACTION_MODULE)
    assert {"none", "classical-v1"} <= set(extraction.METHODS)
    model, scorer = card_model({"threshold": 0.5, "preprocessing": {"brain_extraction": "classical-v1"}})
    scan = _big_head_scan(tmp_path)

    assert main(["predict", str(scan), "--model", str(model), "--json"]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["preprocessing"] == "classical-v1"
    expected = extraction.extract_brain(read_scan(scan)[np.newaxis, ..., np.newaxis], "classical-v1")
    np.testing.assert_array_equal(scorer.batches[0], expected)
