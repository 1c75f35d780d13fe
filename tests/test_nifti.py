"""NIfTI in: volumes built with nibabel under several affines (RAS, LPS, oblique, stored
sagittally, 4D), each of which must give the same radiological pictures: anterior at the
top, the patient's right on the picture's left, slice 0 the most inferior."""

from __future__ import annotations

import json

import numpy as np
import pytest
from braintumor import config  # noqa: E402
from braintumor.models import configs, roles  # noqa: E402

nibabel = pytest.importorskip("nibabel")

from braintumor.cli import main  # noqa: E402
from braintumor.data.images import linear_to_grey  # noqa: E402
from braintumor.data.nifti import radiological_slices, read_nifti  # noqa: E402

SIDE, SLICES = 240, 6
#: Marker grey levels (of 0..255 after the percentile rule: the volume holds 0 and 250 in bulk).
RIGHT_ANTERIOR, LEFT_POSTERIOR, RIGHT_POSTERIOR = 250, 150, 80


def marker_volume() -> np.ndarray:
    """A RAS+ array (x: left -> right, y: posterior -> anterior, z: inferior -> superior) with
    20x20-voxel markers: right-anterior (bright), left-posterior, right-posterior; slice z
    carries z+1 small dots in its middle row so that the slice order shows."""
    ras = np.zeros((SIDE, SIDE, SLICES), np.float32)
    ras[-30:-10, -30:-10, :] = RIGHT_ANTERIOR  # x high = right, y high = anterior
    ras[10:30, 10:30, :] = LEFT_POSTERIOR
    ras[-30:-10, 10:30, :] = RIGHT_POSTERIOR
    for z in range(SLICES):
        ras[100:100 + 4 * (z + 1), 120, z] = RIGHT_ANTERIOR
    return ras


def _save(path, data, affine):
    nibabel.save(nibabel.Nifti1Image(data, affine), path)
    return path


def _check_radiological(pictures):
    """Right-anterior at the top left, left-posterior at the bottom right, right-posterior at
    the bottom left; slice k has k+1 dots."""
    assert pictures.shape == (SLICES, 240, 240)
    for k, picture in enumerate(pictures):
        assert picture[20, 20] == 255  # top-left: anterior and the patient's right
        assert picture[-20, -20] == round(LEFT_POSTERIOR / RIGHT_ANTERIOR * 255)  # bottom-right: posterior, left
        assert picture[-20, 20] == round(RIGHT_POSTERIOR / RIGHT_ANTERIOR * 255)  # bottom-left: posterior, right
        assert picture[20, -20] == 0  # top-right: anterior left is empty
        assert int((picture[:, :] == 255).sum() - 400) == 4 * (k + 1)


def test_radiological_slices_put_anterior_up_and_patient_right_on_the_left():
    pictures = radiological_slices(marker_volume())
    _check_radiological(linear_to_grey(pictures, 0, RIGHT_ANTERIOR))


def test_ras_volume(tmp_path):
    path = _save(tmp_path / "ras.nii.gz", marker_volume(), np.diag([1.0, 1.0, 1.0, 1.0]))
    volume = read_nifti(path)
    _check_radiological(volume.slices)
    assert volume.note is None


def test_lps_volume_gives_the_same_pictures(tmp_path):
    lps = marker_volume()[::-1, ::-1, :]  # voxel i runs right -> left, j anterior -> posterior
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    affine[:3, 3] = [SIDE - 1, SIDE - 1, 0]
    _check_radiological(read_nifti(_save(tmp_path / "lps.nii", np.ascontiguousarray(lps), affine)).slices)


def _rotation(axis: int, degrees: float) -> np.ndarray:
    angle = np.deg2rad(degrees)
    c, s = np.cos(angle), np.sin(angle)
    a, b = [i for i in range(3) if i != axis]
    rotation = np.eye(4)
    rotation[a, a], rotation[a, b], rotation[b, a], rotation[b, b] = c, -s, s, c
    return rotation


def test_oblique_volume_uses_the_closest_canonical_orientation(tmp_path):
    affine = _rotation(0, 20) @ _rotation(2, -15) @ np.diag([0.9, 0.9, 3.0, 1.0])  # tilted, thick slices
    _check_radiological(read_nifti(_save(tmp_path / "oblique.nii.gz", marker_volume(), affine)).slices)


def test_volume_stored_sagittally_and_tilted_is_resliced_axially(tmp_path):
    stored = np.ascontiguousarray(np.transpose(marker_volume(), (1, 2, 0)))  # voxel axes: (A, S, R)
    permutation = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)  # i->y, j->z, k->x
    _check_radiological(read_nifti(_save(tmp_path / "sagittal.nii", stored, _rotation(1, 10) @ permutation)).slices)


def test_4d_volume_scores_the_first_volume_with_a_note(tmp_path):
    first = marker_volume()
    data = np.stack([first, first[::-1], np.zeros_like(first)], axis=-1)
    volume = read_nifti(_save(tmp_path / "bold.nii.gz", data, np.eye(4)))
    _check_radiological(volume.slices)
    assert "4D" in volume.note and "first volume" in volume.note


def test_intensity_is_the_volume_percentiles_after_scaling(tmp_path):
    """A negative scl_slope turns bright into dark: only a reader that applies it gets the
    expected picture (percentiles alone are blind to a positive slope, so that cannot tell)."""
    data = np.random.default_rng(0).normal(500, 100, (64, 64, 5)).astype(np.int16)
    image = nibabel.Nifti1Image(data, np.eye(4))
    image.header.set_slope_inter(-2.0, 3000.0)
    nibabel.save(image, tmp_path / "scaled.nii")
    from braintumor.data.images import to_model_size

    def pictures(values):
        grey = linear_to_grey(radiological_slices(values), *np.percentile(values, [0.5, 99.5]))
        return np.stack([to_model_size(picture) for picture in grey])

    scaled, unscaled = pictures(data.astype(np.float64) * -2.0 + 3000.0), pictures(data.astype(np.float64))
    got = read_nifti(tmp_path / "scaled.nii").slices
    np.testing.assert_array_equal(got, scaled)
    assert np.abs(got.astype(int) - unscaled).mean() > 50  # ignoring the slope would give the inverse


def test_predict_gives_slice_lines_then_a_summary(tmp_path, capsys):
    path = _save(tmp_path / "ras.nii.gz", marker_volume(), np.eye(4))
    (tmp_path / "broken.nii").write_text("not a volume")

    status = main(["predict", str(tmp_path), "--json", "--threshold", "0"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 1
    assert records[0]["file"] == str(tmp_path / "broken.nii") and "not a readable NIfTI" in records[0]["error"]
    slices, summary = records[1:-1], records[-1]
    assert [record["slice"] for record in slices] == list(range(SLICES))
    assert all(set(record) >= {"file", "slice", "probability", "label", "model", "runtime"} for record in slices)
    from braintumor.predict import brain_extraction  # the default's card's extraction; "none" adds no key

    method = brain_extraction(config.REPO_ROOT / configs.model_file(roles.default_model()))
    assert summary == {
        "schema": 1, "file": str(path), "slices": SLICES, "max_slice": summary["max_slice"],
        "max_probability": max(record["probability"] for record in slices), "slices_at_or_over_threshold": SLICES,
        "model": roles.default_model(), "runtime": "onnx", **({} if method == "none" else {"preprocessing": method}),
    }
    assert slices[summary["max_slice"]]["probability"] == summary["max_probability"]

    main(["predict", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{path} [slice 0]\t")
    assert lines[-1].startswith(f"{path}\t{SLICES} slices: max ")
