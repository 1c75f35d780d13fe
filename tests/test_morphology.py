"""data/morphology.py gives SciPy's results exactly (it stands in for `scipy.ndimage` so that
`predict` need not import SciPy), on varied masks and on real slices."""

import subprocess
import sys

import numpy as np
import pytest

from braintumor import config
from braintumor.data import morphology
from braintumor.data.dataset import DataError, load_npz
from braintumor.data.lgg import LGG_NPZ_PATH

ndimage = pytest.importorskip("scipy.ndimage")


def _synthetic_masks():
    rng = np.random.default_rng(0)
    masks = [rng.random((60, 50)) < share for share in (0.3, 0.5, 0.6, 0.75, 0.9)]
    masks += [rng.random((240, 240)) < 0.6, np.eye(9, dtype=bool), np.eye(9, dtype=bool)[::-1]]
    spiral = np.zeros((31, 31), dtype=bool)  # one long winding component: many passes, one label
    for ring in range(0, 15, 2):
        spiral[ring, ring:31 - ring] = spiral[ring:31 - ring, 30 - ring] = True
        spiral[30 - ring, ring + 2:31 - ring] = spiral[ring + 2:31 - ring, ring + 2] = True
    masks += [spiral, np.zeros((5, 5), bool), np.ones((5, 5), bool), np.ones((1, 7), bool), np.zeros((0, 4), bool)]
    return masks


def _real_masks():
    """Head-like masks of real slices at three grey levels (A and LGG, where packed)."""
    masks = []
    for path in (config.NPZ_PATH, LGG_NPZ_PATH):
        try:
            images = load_npz(config.REPO_ROOT / path).images[::97, ..., 0]
        except DataError:
            continue
        masks += [picture > level for picture in images for level in (0, 40, 90)]
    return masks


def _all_masks():
    return _synthetic_masks() + _real_masks()


def test_label_numbers_components_as_scipy():
    for index, mask in enumerate(_all_masks()):
        if mask.size == 0:
            continue
        labels, count = morphology.label(mask)
        expected, expected_count = ndimage.label(mask)
        assert count == expected_count, f"mask {index}"
        np.testing.assert_array_equal(labels, expected, err_msg=f"mask {index}")


def test_fill_holes_erosion_dilation_and_closing_equal_scipy():
    for index, mask in enumerate(_all_masks()):
        if mask.size == 0:
            continue
        np.testing.assert_array_equal(morphology.fill_holes(mask), ndimage.binary_fill_holes(mask), err_msg=f"{index}")
        for iterations in (1, 3):
            np.testing.assert_array_equal(morphology.erode(mask, iterations),
                                          ndimage.binary_erosion(mask, iterations=iterations), err_msg=f"{index}")
            np.testing.assert_array_equal(morphology.erode(mask, iterations, border=True),
                                          ndimage.binary_erosion(mask, iterations=iterations, border_value=1))
            np.testing.assert_array_equal(morphology.dilate(mask, iterations),
                                          ndimage.binary_dilation(mask, iterations=iterations), err_msg=f"{index}")
            np.testing.assert_array_equal(morphology.closing(mask, iterations),
                                          ndimage.binary_closing(mask, iterations=iterations), err_msg=f"{index}")


def test_depths_equal_scipys_distance_transforms():
    for index, mask in enumerate(_all_masks()):
        if mask.size == 0:
            continue
        taxicab = ndimage.distance_transform_cdt(mask, metric="taxicab")
        for depth, over in enumerate(morphology.cross_depths_over(mask, 3), start=1):
            np.testing.assert_array_equal(over, taxicab > depth, err_msg=f"{index}")
        chessboard = ndimage.distance_transform_cdt(np.pad(mask, 1), metric="chessboard")[1:-1, 1:-1]
        edge = morphology.EdgeDistance(mask)
        assert edge.max() == chessboard.max(), f"mask {index}"
        for threshold in (-1, 0, 1, 2.5, 4, 5, 0.4 * chessboard.max(), chessboard.max(), 500):
            np.testing.assert_array_equal(edge.over(threshold), chessboard > threshold, err_msg=f"{index} {threshold}")
            np.testing.assert_array_equal(edge.at_most(threshold), mask & (chessboard <= threshold))


def test_gaussian_smoothing_equals_scipy_bit_for_bit():
    rng = np.random.default_rng(1)
    greys = [rng.integers(0, 256, (40, 33), dtype=np.uint8), np.zeros((6, 6), np.uint8)]
    greys += [np.clip(mask * 200 + 20, 0, 255).astype(np.uint8) for mask in _real_masks()[::3]]
    for sigma in (1.0, 0.7, 2.0):
        for grey in greys:
            expected = ndimage.gaussian_filter(grey.astype(np.float32), sigma)
            smoothed = morphology.gaussian_smooth(grey, sigma)
            assert smoothed.dtype == np.float32
            np.testing.assert_array_equal(smoothed, expected)


def test_importing_morphology_and_the_input_check_loads_no_scipy():
    code = ("import sys, braintumor.data.morphology, braintumor.data.input_check, braintumor.data.brain_extraction; "
            "print('scipy' in sys.modules)")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert finished.stdout.strip() == "False", finished.stderr
