"""Outside scans: folder lookup, class-folder labels, recursion, bad files, fingerprint."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from braintumor.data.external import (
    CLASS_FOLDER_LABELS,
    EXTERNAL_ENV_VAR,
    ExternalDataError,
    class_folders,
    find_external_dir,
    fingerprint,
    load_external,
)
from braintumor.data.images import read_scan


def _write(path, shape=(64, 80), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def external(tmp_path):
    root = tmp_path / "outside"
    _write(root / "No" / "a scan.png", seed=1)
    _write(root / "No" / "deeper" / "b.JPG", shape=(300, 200, 3), seed=2)
    _write(root / "glioma" / "c.jpeg", seed=3)
    _write(root / "yes" / "d.png", shape=(240, 240), seed=4)
    _write(root / "yes" / ".hidden.png", seed=5)
    _write(root / "yes" / ".cache" / "e.png", seed=6)
    (root / "yes" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("loose files at the top are ignored")
    return root


def test_labels_recursion_order_and_conversion(external):
    scans = load_external(external)
    assert scans.names.tolist() == ["No/a scan.png", "No/deeper/b.JPG", "glioma/c.jpeg", "yes/d.png"]
    assert scans.labels.tolist() == [0, 0, 1, 1]
    assert scans.images.shape == (4, 240, 240, 1) and scans.images.dtype == np.uint8
    assert scans.class_counts == {"no tumour": 2, "tumour": 2}
    np.testing.assert_array_equal(scans.images[1, ..., 0], read_scan(external / "No" / "deeper" / "b.JPG"))
    assert len(set(scans.sha256)) == 4 and all(len(h) == 64 for h in scans.sha256)


def test_every_accepted_name_case_insensitive(tmp_path):
    for i, name in enumerate(CLASS_FOLDER_LABELS):
        _write(tmp_path / name.upper() / "x.png", seed=i)
    labels = {folder.name.lower(): label for folder, label in class_folders(tmp_path)}
    assert labels == CLASS_FOLDER_LABELS
    assert {k for k, v in labels.items() if v == 0} == {"no", "notumor", "no_tumor", "no tumour", "healthy"}


def test_unknown_class_folder_is_named(external):
    _write(external / "maybe" / "x.png")
    with pytest.raises(ExternalDataError, match="unknown class folder 'maybe'.*'no_tumor'"):
        load_external(external)


def test_undecodable_file_is_named(external):
    (external / "yes" / "broken.jpg").write_bytes(b"not really a jpeg")
    with pytest.raises(ExternalDataError, match="broken.jpg"):
        load_external(external)


def test_class_folder_without_images(external):
    (external / "tumour").mkdir()
    with pytest.raises(ExternalDataError, match="holds no image"):
        load_external(external)


def test_env_var_unset_gives_none(monkeypatch):
    monkeypatch.delenv(EXTERNAL_ENV_VAR, raising=False)
    assert find_external_dir() is None


def test_env_var_found(monkeypatch, external):
    monkeypatch.setenv(EXTERNAL_ENV_VAR, str(external))
    assert find_external_dir() == external


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_env_var_unusable_is_an_error(monkeypatch, tmp_path, make):
    target = tmp_path / "target"
    if make == "file":
        target.write_text("x")
    elif make == "empty":
        target.mkdir()
    monkeypatch.setenv(EXTERNAL_ENV_VAR, str(target))
    with pytest.raises(ExternalDataError, match=EXTERNAL_ENV_VAR):
        find_external_dir()


def test_fingerprint_ignores_order_not_content():
    hashes = ["a" * 64, "b" * 64]
    assert fingerprint(hashes) == fingerprint(hashes[::-1])
    assert fingerprint(hashes) != fingerprint(hashes[:1])
