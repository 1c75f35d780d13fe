"""The input check: cues of a scan, bounds set on training scans, and the warnings."""

import json

import numpy as np
import pytest

from braintumor.data.input_check import CUES, check_rule, fit_input_check, input_cues, input_warnings


def brain(radius=50, centre=(120, 120), brightness=130, seed=0, rim=None, size=240):
    """A synthetic skull-stripped slice: a disc on black, dimming towards its edge (like the
    cortex blurred into the background). `rim` paints the outer 3 px at that grey (a skull)."""
    rows, cols = np.mgrid[:size, :size]
    distance = np.hypot(rows - centre[0], cols - centre[1]) / radius
    noise = np.random.default_rng(seed).normal(0, 5, (size, size))
    grey = np.where(distance <= 1, brightness * (1 - 0.5 * distance**4) + noise, 0)
    if rim is not None:
        grey[(distance <= 1) & (distance > 1 - 3 / radius)] = rim
    return np.clip(grey, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def rule():
    """Bounds set on 60 small-head slices: radius 40-60, brightness 100-160, off-centre by up to 20 px."""
    rng = np.random.default_rng(1)
    scans = [brain(radius=rng.uniform(40, 60), centre=tuple(120 + rng.uniform(-20, 20, 2)),
                   brightness=rng.uniform(100, 160), seed=k) for k in range(60)]
    return fit_input_check(np.stack(scans)[..., np.newaxis])


def test_cues_of_a_known_scan():
    scan = np.zeros((1, 240, 240, 1), dtype=np.uint8)
    scan[0, 60:180, 90:150] = 100  # a 120 x 60 block: an eighth of the picture
    cues = input_cues(scan)
    assert set(cues) == set(CUES)
    assert cues["head_fraction"][0] == pytest.approx(120 * 60 / 240**2)
    assert cues["head_box"][0] == pytest.approx(120 * 60 / 240**2)
    assert cues["dark_frame"][0] == 1.0
    assert cues["head_grey"][0] == 100.0
    assert cues["bright_rim"][0] == 0.0  # the rim is no brighter than the median


def test_an_empty_picture_has_no_head_and_no_error():
    cues = input_cues(np.zeros((2, 240, 240), dtype=np.uint8))
    for name in ("head_fraction", "head_box", "bright_rim", "head_grey"):
        assert cues[name].tolist() == [0.0, 0.0], name


def test_rule_is_json_with_bounds_quantiles_and_how_it_was_set(rule):
    assert json.loads(json.dumps(rule)) == rule
    assert set(rule["bounds"]) == set(CUES)
    assert rule["quantiles"] == [0.005, 0.995] and rule["n_train"] == 60
    assert "60 training scans" in rule["description"]
    low, high = rule["bounds"]["head_fraction"]
    assert np.pi * 40**2 / 240**2 * 0.95 < low < high < np.pi * 60**2 / 240**2 * 1.05


def test_a_typical_scan_gets_no_warning(rule):
    assert input_warnings(brain(radius=50, brightness=130, seed=99)[None], rule) == [None]


def test_big_head_no_frame_and_bright_rim_are_each_named(rule):
    big_head = brain(radius=110, seed=5)
    no_frame = brain(seed=6)
    no_frame[:4, :] = 120  # e.g. a caption bar along the top edge
    bright_rim = brain(seed=7, rim=250)
    warnings = input_warnings(np.stack([big_head, no_frame, bright_rim]), rule)
    assert "head fills" in warnings[0] and "training:" in warnings[0]
    assert "dark border" in warnings[1]
    assert "bright rim around the head" in warnings[2]
    assert "head fills" not in warnings[2]


def test_warning_shows_a_value_just_outside_apart_from_its_bound():
    rule = {"bounds": {"dark_frame": [1.0, 1.0]}}
    scan = brain()
    scan[0, 0] = 200  # one bright pixel of the 7424 in the border band: 99.987% dark
    [warning] = input_warnings(scan[None], rule)
    assert "dark border 99.99% (training: 100.00%-100.00%)" == warning


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({}, "bounds"),
        ({"bounds": {"skull_size": [0, 1]}}, "unknown cue"),
        ({"bounds": {"head_fraction": [0.5, 0.1]}}, "low <= high"),
        ({"bounds": {"head_fraction": ["a", 1]}}, "numbers"),
        ({"bounds": {"head_fraction": [0.1, 0.5]}, "frame_width": 3}, "refit"),
    ],
)
def test_unusable_rules_are_refused_with_the_reason(broken, reason):
    with pytest.raises(ValueError, match=reason):
        check_rule(broken)


def test_fit_needs_scans_and_ordered_quantiles():
    with pytest.raises(ValueError, match="no training scans"):
        fit_input_check(np.zeros((0, 240, 240, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match="low_q"):
        fit_input_check(np.zeros((2, 240, 240, 1), dtype=np.uint8), low_q=0.9, high_q=0.1)


def test_the_dark_frame_band_follows_a_non_square_picture():
    from braintumor.data.dataset import border_mask

    band = border_mask((20, 30), 4)
    assert band.shape == (20, 30) and band[0].all() and band[:, -1].all() and not band[10, 15]


# --------------------------------------------------------------------------------------
# The NumPy morphology equals SciPy's (predict no longer imports SciPy)
# --------------------------------------------------------------------------------------


def _varied_masks():
    """Masks that exercise the flood: random blobs and noise, holes, heads touching the edge,
    a spiral (a long winding path to the outside), rings, empty, full and thin shapes."""
    rng = np.random.default_rng(7)
    masks = [np.zeros((240, 240), bool), np.ones((240, 240), bool), np.zeros((1, 1), bool), np.ones((3, 5), bool)]
    for density in (0.05, 0.3, 0.5, 0.7, 0.95):
        masks.append(rng.random((60, 80)) < density)
    for seed in range(12):  # real slices: heads through the head mask, some off the picture's edge
        masks.append(brain(radius=40 + 7 * seed, centre=(120 + 9 * (seed - 6), 120 + 13 * (seed % 4)),
                           seed=seed, rim=200 if seed % 3 == 0 else None) > 20)
    rows, cols = np.mgrid[:120, :120]
    ring = np.abs(np.hypot(rows - 60, cols - 60) - 30) < 3
    masks.extend([ring, ring & (cols != 60), ring | (np.hypot(rows - 60, cols - 60) < 10)])
    spiral = np.zeros((101, 101), bool)  # walls of a square spiral, one opening at the outside
    for step in range(0, 50, 4):
        spiral[step, step:101 - step] = spiral[100 - step, step:101 - step] = True
        spiral[step:101 - step, step] = spiral[step + 2:101 - step, 100 - step] = True
    masks.append(spiral)
    diagonal = np.eye(50, dtype=bool) | np.eye(50, dtype=bool)[::-1]  # 8-connected walls leak 4-wise
    masks.append(diagonal)
    return masks


def test_fill_holes_and_erode_equal_scipy_on_varied_masks():
    from scipy import ndimage

    from braintumor.data.input_check import erode, fill_holes

    for index, mask in enumerate(_varied_masks()):
        np.testing.assert_array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask), err_msg=f"mask {index}")
        for iterations in (1, 2, 4):
            np.testing.assert_array_equal(erode(mask, iterations),
                                          ndimage.binary_erosion(mask, iterations=iterations, border_value=0),
                                          err_msg=f"mask {index}, {iterations} erosions")


def test_bright_rim_cue_equals_the_scipy_version():
    from scipy import ndimage

    from braintumor.data.input_check import RIM_DEPTH, input_cues

    scans = np.stack([brain(radius=30 + 9 * k, seed=k, rim=(None, 220, 90)[k % 3]) for k in range(10)])
    expected = []
    for grey in scans:
        mask = grey > 20
        filled = ndimage.binary_fill_holes(mask)
        rim = filled & ~ndimage.binary_erosion(filled, iterations=RIM_DEPTH, border_value=0)
        expected.append(float((grey[rim] > np.median(grey[mask])).mean()) if rim.any() and mask.any() else 0.0)
    np.testing.assert_array_equal(input_cues(scans)["bright_rim"], expected)


def test_input_check_imports_no_scipy():
    import subprocess
    import sys

    code = "import sys, braintumor.data.input_check; print('scipy' in sys.modules)"
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert finished.stdout.strip() == "False", finished.stderr
