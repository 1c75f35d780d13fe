"""The LGG source: reading the Kaggle layout, validating it, splitting by patient."""

import numpy as np
import pytest
from PIL import Image

from braintumor.data.dataset import DataError
from braintumor.data.lgg import (find_lgg_dir, load_lgg_raw, patient_split, patients_of, prepare_lgg, site_of,
                                 slice_pairs)
from braintumor.data.splits import split_masks


def _write_patient(root, patient, slices, tumour_slices=(), rgb=False, size=256):
    folder = root / patient
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(patient))
    for n in range(1, slices + 1):
        flair = rng.integers(0, 200, (size, size), dtype=np.uint8)
        if rgb:  # the download's channel order: pre-contrast T1, FLAIR, post-contrast T1
            picture = np.stack([np.full_like(flair, 7), flair, np.full_like(flair, 9)], axis=-1)
            Image.fromarray(picture, "RGB").save(folder / f"{patient}_{n}.tif")
        else:
            Image.fromarray(flair).save(folder / f"{patient}_{n}.tif")
        mask = np.zeros((size, size), np.uint8)
        if n in tumour_slices:
            mask[100:120, 100:120] = 255
        Image.fromarray(mask).save(folder / f"{patient}_{n}_mask.tif")
    return folder


@pytest.fixture
def kaggle_3m(tmp_path):
    root = tmp_path / "lgg" / "kaggle_3m"
    for site, count in (("CS", 4), ("DU", 5), ("EZ", 1)):
        for p in range(count):
            _write_patient(root, f"TCGA_{site}_{1000 + p}_2000010{p}", slices=6, tumour_slices=(3, 4))
    (root / "data.csv").write_text("Patient\n")
    return root


def test_reads_rgb_channel_one_and_grey_as_is(tmp_path):
    root = tmp_path / "kaggle_3m"
    _write_patient(root, "TCGA_CS_0001_20000101", slices=2, tumour_slices=(2,), rgb=True, size=240)
    dataset, patients, sites = load_lgg_raw(root)
    with Image.open(root / "TCGA_CS_0001_20000101" / "TCGA_CS_0001_20000101_1.tif") as image:
        flair = np.asarray(image)[..., 1]
    np.testing.assert_array_equal(dataset.images[0, ..., 0], flair)
    assert dataset.labels.tolist() == [0, 1]
    assert dataset.names.tolist() == ["TCGA_CS_0001_20000101/1", "TCGA_CS_0001_20000101/2"]
    assert sites.tolist() == ["CS", "CS"] and site_of(patients[0]) == "CS"


def test_resizes_to_the_model_input_and_labels_from_the_mask(kaggle_3m):
    dataset, patients, _ = load_lgg_raw(kaggle_3m)
    assert dataset.images.shape == (60, 240, 240, 1) and dataset.images.dtype == np.uint8
    assert int(dataset.labels.sum()) == 20  # slices 3 and 4 of each of 10 patients
    assert set(patients_of(dataset.names)) == set(patients)


def test_folder_may_be_kaggle_3m_or_its_parent(kaggle_3m, monkeypatch):
    assert find_lgg_dir(kaggle_3m.parent) == kaggle_3m
    monkeypatch.setenv("BRAIN_TUMOR_LGG", str(kaggle_3m))
    assert find_lgg_dir() == kaggle_3m
    monkeypatch.delenv("BRAIN_TUMOR_LGG")
    assert find_lgg_dir() is None


def test_sites_can_be_chosen(kaggle_3m):
    pairs = slice_pairs(kaggle_3m, sites=("DU",))
    assert {site_of(patient) for patient, *_ in pairs} == {"DU"}
    with pytest.raises(DataError, match="no slice of the sites"):
        slice_pairs(kaggle_3m, sites=("HT",))


@pytest.mark.parametrize("damage, message", [
    ("drop_mask", "has no mask beside it"),
    ("drop_image", "has no image beside it"),
    ("grey_mask", "grey levels"),
    ("small_mask", "but its image is"),
    ("corrupt", "cannot be read"),
])
def test_bad_files_are_named_and_nothing_is_written(kaggle_3m, tmp_path, damage, message):
    folder = kaggle_3m / "TCGA_CS_1000_20000100"
    if damage == "drop_mask":
        (folder / "TCGA_CS_1000_20000100_2_mask.tif").unlink()
    elif damage == "drop_image":
        (folder / "TCGA_CS_1000_20000100_2.tif").unlink()
    elif damage == "grey_mask":
        Image.fromarray(np.arange(256 * 256, dtype=np.uint32).reshape(256, 256).astype(np.uint8)).save(
            folder / "TCGA_CS_1000_20000100_2_mask.tif")
    elif damage == "small_mask":
        Image.fromarray(np.zeros((128, 128), np.uint8)).save(folder / "TCGA_CS_1000_20000100_2_mask.tif")
    else:
        (folder / "TCGA_CS_1000_20000100_2.tif").write_bytes(b"II*\x00 not a tiff")
    out, splits = tmp_path / "out.npz", tmp_path / "splits.csv"
    with pytest.raises(DataError, match=message) as raised:
        prepare_lgg(kaggle_3m, out=out, splits_out=splits)
    assert "TCGA_CS_1000_20000100" in str(raised.value)
    assert not out.exists() and not splits.exists()


def test_split_keeps_each_patient_whole_and_spreads_sites(kaggle_3m, tmp_path):
    out, splits = tmp_path / "lgg.npz", tmp_path / "lgg_splits.csv"
    summary = prepare_lgg(kaggle_3m, out=out, splits_out=splits)
    dataset, patients, sites = load_lgg_raw(kaggle_3m)
    masks = split_masks(dataset.names, splits)
    for patient in set(patients):
        assert sum(bool(mask[patients == patient].any()) for mask in masks.values()) == 1
    # a site of one patient cannot be split and goes to train; the others reach test
    assert masks["train"][sites == "EZ"].all()
    for site in ("CS", "DU"):
        assert masks["test"][sites == site].any()
    assert summary["patients"] == 10 and summary["images"] == 60


def test_patient_split_is_fixed_by_the_seed():
    patients = np.repeat([f"P{i}" for i in range(12)], 10)
    sites = np.where(np.arange(120) < 60, "CS", "DU")
    labels = (np.arange(120) % 10 < 3).astype(int)
    first, again = patient_split(patients, sites, labels, seed=1), patient_split(patients, sites, labels, seed=1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, patient_split(patients, sites, labels, seed=2))
