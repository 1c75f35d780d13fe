"""Finding, validating and packing the raw data, on small datasets built in tmp_path."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from braintumor import config
from braintumor.cli import main
from braintumor.data.dataset import DataError, find_data_dir, load_npz, load_raw
from braintumor.data.prepare import prepare

REPO = Path(__file__).resolve().parent.parent


def make_dataset(root: Path, n: int = 12, duplicate_of: dict | None = None, labels=None) -> Path:
    """A Kaggle-shaped folder: 'Brain Tumor.csv' and 'Brain Tumor/Brain Tumor/ImageK.jpg'.

    Scans are grey saved as RGB, like the real data. `duplicate_of` maps an image number to
    another whose file it copies byte for byte.
    """
    image_dir = root / config.IMAGE_SUBDIR
    image_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = labels if labels is not None else [k % 2 for k in range(n)]
    duplicate_of = duplicate_of or {}
    for k in range(1, n + 1):
        path = image_dir / f"Image{k}.jpg"
        if k in duplicate_of:
            path.write_bytes((image_dir / f"Image{duplicate_of[k]}.jpg").read_bytes())
            continue
        grey = rng.integers(0, 256, (240, 240), dtype=np.uint8)
        Image.fromarray(np.stack([grey] * 3, axis=-1)).save(path, quality=95)
    with open(root / config.LABELS_CSV, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Image", "Class", "Mean"])
        for k in range(1, n + 1):
            writer.writerow([f"Image{k}", labels[k - 1], 1.0])
    return root


def rewrite_label(root: Path, image: str, label: str) -> None:
    path = root / config.LABELS_CSV
    rows = list(csv.reader(open(path)))
    for row in rows:
        if row[0] == image:
            row[1] = label
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture
def dataset_dir(tmp_path):
    return make_dataset(tmp_path / "raw data with spaces", duplicate_of={5: 3})


def test_prepare_packs_images_labels_and_names_in_csv_order(dataset_dir, tmp_path):
    out = tmp_path / "out" / "image_data.npz"
    summary = prepare(dataset_dir, out=out, splits_out=tmp_path / "splits.csv")
    packed = load_npz(out)
    assert packed.images.shape == (12, 240, 240, 1) and packed.images.dtype == np.uint8
    assert packed.names.tolist() == [f"Image{k}" for k in range(1, 13)]
    assert packed.labels.tolist() == [k % 2 for k in range(12)]
    assert summary["class_counts"] == {"no tumour": 6, "tumour": 6}
    original = np.asarray(Image.open(dataset_dir / config.IMAGE_SUBDIR / "Image1.jpg"))[..., 0]
    assert np.array_equal(packed.images[0, :, :, 0], original)


def test_prepare_reports_exact_duplicates_and_keeps_them_in_one_split(dataset_dir, tmp_path):
    splits_path = tmp_path / "splits.csv"
    summary = prepare(dataset_dir, out=tmp_path / "d.npz", splits_out=splits_path)
    assert summary["duplicate_groups"] == 1
    assert summary["duplicate_group_members"] == [["Image3", "Image5"]]
    rows = {row["image"]: row for row in csv.DictReader(open(splits_path))}
    assert rows["Image3"]["split"] == rows["Image5"]["split"]
    assert summary["duplicate_groups_across_splits"] == 0


def test_npz_loads_without_pickle(dataset_dir, tmp_path):
    out = tmp_path / "d.npz"
    prepare(dataset_dir, out=out, splits_out=None)
    with np.load(out, allow_pickle=False) as packed:
        assert set(packed.files) == {"images", "labels", "names", "sha256"}


def test_find_data_dir_prefers_the_environment_variable(dataset_dir, monkeypatch):
    monkeypatch.setenv(config.DATA_ENV_VAR, str(dataset_dir))
    assert find_data_dir() == dataset_dir


def test_missing_data_names_both_places_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(config.DATA_ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as error:
        find_data_dir()
    message = str(error.value)
    assert "BRAIN_TUMOR_DATA" in message and "data/raw" in message
    assert "jakeshbohaju/brain-tumor" in message and "kagglehub" in message


def _expect_failure(root: Path, tmp_path: Path, *fragments: str) -> None:
    out = tmp_path / "out.npz"
    with pytest.raises(DataError) as error:
        prepare(root, out=out, splits_out=tmp_path / "splits.csv")
    for fragment in fragments:
        assert fragment in str(error.value)
    assert not out.exists()
    assert not (tmp_path / "splits.csv").exists()
    assert not list(tmp_path.glob(".out.npz*")), "a temporary file was left behind"


def test_corrupt_jpeg_is_named(dataset_dir, tmp_path):
    path = dataset_dir / config.IMAGE_SUBDIR / "Image7.jpg"
    path.write_bytes(path.read_bytes()[:200])
    _expect_failure(dataset_dir, tmp_path, "Image7.jpg", "corrupt")


def test_image_without_csv_row_is_named(dataset_dir, tmp_path):
    extra = dataset_dir / config.IMAGE_SUBDIR / "Image99.jpg"
    extra.write_bytes((dataset_dir / config.IMAGE_SUBDIR / "Image1.jpg").read_bytes())
    _expect_failure(dataset_dir, tmp_path, "Image99.jpg", "no row")


def test_csv_row_without_image_is_named(dataset_dir, tmp_path):
    (dataset_dir / config.IMAGE_SUBDIR / "Image4.jpg").unlink()
    _expect_failure(dataset_dir, tmp_path, "Image4", "line 5", "does not exist")


def test_label_of_two_is_named_with_its_row(dataset_dir, tmp_path):
    rewrite_label(dataset_dir, "Image6", "2")
    _expect_failure(dataset_dir, tmp_path, "line 7", "Image6", "'2'")


def test_missing_label_is_named_with_its_own_row(dataset_dir, tmp_path):
    rewrite_label(dataset_dir, "Image6", "")
    _expect_failure(dataset_dir, tmp_path, "line 7", "Image6", "label is missing")


@pytest.mark.parametrize("label", ["0.5", "yes", "nan", "-1"])
def test_label_that_is_not_0_or_1_is_named_with_its_row(dataset_dir, tmp_path, label):
    rewrite_label(dataset_dir, "Image6", label)
    _expect_failure(dataset_dir, tmp_path, "line 7", "Image6", repr(label))


def test_labels_written_as_1_0_and_0_0_are_read_as_1_and_0(tmp_path):
    root = make_dataset(tmp_path / "raw", n=4, labels=["0.0", "1.0", " 0 ", "1"])
    assert load_raw(root).labels.tolist() == [0, 1, 0, 1]


def test_wrong_size_is_named(dataset_dir, tmp_path):
    grey = np.zeros((200, 200), dtype=np.uint8)
    Image.fromarray(grey).save(dataset_dir / config.IMAGE_SUBDIR / "Image2.jpg")
    _expect_failure(dataset_dir, tmp_path, "Image2.jpg", "200x200", "240x240")


def test_colour_image_is_refused(dataset_dir, tmp_path):
    rgb = np.zeros((240, 240, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(dataset_dir / config.IMAGE_SUBDIR / "Image2.jpg")
    _expect_failure(dataset_dir, tmp_path, "Image2.jpg", "colour")


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        find_data_dir(tmp_path / "no such folder")


def test_missing_image_folder_is_named(dataset_dir, tmp_path):
    for path in (dataset_dir / config.IMAGE_SUBDIR).iterdir():
        path.unlink()
    (dataset_dir / config.IMAGE_SUBDIR).rmdir()
    _expect_failure(dataset_dir, tmp_path, "image folder", "missing")


def test_differently_labelled_duplicates_are_refused(tmp_path):
    root = make_dataset(tmp_path / "raw", duplicate_of={4: 3})  # Image3 label 0, Image4 label 1
    _expect_failure(root, tmp_path, "Image3", "Image4", "byte-identical")


def test_cli_exits_non_zero_with_a_clear_message_and_writes_nothing(dataset_dir, tmp_path, capsys):
    rewrite_label(dataset_dir, "Image3", "2")
    out = tmp_path / "cli.npz"
    status = main(["prepare", "--data-dir", str(dataset_dir), "--out", str(out), "--splits", str(tmp_path / "s.csv")])
    assert status != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Image3" in err and "Traceback" not in err
    assert not out.exists()


def test_module_entry_point_exit_status(dataset_dir, tmp_path):
    (dataset_dir / config.IMAGE_SUBDIR / "Image4.jpg").unlink()
    result = subprocess.run(
        [sys.executable, "-m", "braintumor", "prepare", "--data-dir", str(dataset_dir),
         "--out", str(tmp_path / "x.npz"), "--splits", str(tmp_path / "s.csv")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "Image4" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.npz").exists()


def test_load_raw_returns_grey_arrays_from_rgb_files(dataset_dir):
    dataset = load_raw(dataset_dir)
    assert dataset.images.shape[-1] == 1
    assert len(dataset.sha256) == 12 and len(set(dataset.sha256)) == 11
