"""The 2D brain extraction (issue 41): skull-stripped slices come out whole, a scalp and skull
shell is taken away, and the API's shapes, dtypes and errors."""

import subprocess
import sys

import numpy as np
import pytest

from braintumor import config
from braintumor.data.brain_extraction import METHODS, brain_mask, extract_brain, extraction_effect, fill_holes
from braintumor.data.dataset import HEAD_GREY_LEVEL, DataError, head_mask, load_npz
from braintumor.data.input_check import input_cues
from braintumor.data.lgg import LGG_NPZ_PATH


def _distance(size=240, centre=(120, 120)):
    rows, cols = np.mgrid[:size, :size]
    return np.hypot(rows - centre[0], cols - centre[1])


def stripped_brain(radius=70, brightness=130, seed=0, size=240):
    """A synthetic skull-stripped slice: a noisy disc on black, dimming towards its edge."""
    distance = _distance(size) / radius
    noise = np.random.default_rng(seed).normal(0, 5, (size, size))
    grey = np.where(distance <= 1, brightness * (1 - 0.5 * distance**4) + noise, 0)
    return np.clip(grey, 0, 255).astype(np.uint8)


def skull_slice(seed=0, size=240):
    """A synthetic slice with a skull: a brain disc (radius 70, grey ~110) inside a dark gap
    (radius 70-80, grey 30: skull and CSF, brighter than the background) inside a bright
    scalp ring (radius 80-90, grey 200). Returns (slice, brain disc, scalp ring)."""
    distance = _distance(size)
    noise = np.random.default_rng(seed).normal(0, 4, (size, size))
    disc, gap, ring = distance <= 70, (distance > 70) & (distance <= 80), (distance > 80) & (distance <= 90)
    grey = np.select([disc, gap, ring], [110 + noise, 30 + noise, 200 + noise], 0)
    return np.clip(grey, 0, 255).astype(np.uint8), disc, ring


# --------------------------------------------------------------------------------------
# Synthetic slices and the API
# --------------------------------------------------------------------------------------


def test_a_skull_stripped_disc_is_kept_whole():
    grey = stripped_brain()
    np.testing.assert_array_equal(brain_mask(grey), grey > HEAD_GREY_LEVEL)
    np.testing.assert_array_equal(extract_brain(grey), grey)


def test_a_bright_lesion_inside_a_stripped_brain_is_not_taken_for_the_brain():
    """A lesion ringed by darker brain splits from the rest at the higher tissue threshold (an
    inside piece), but the head's edge around it is brain, not a bright scalp: kept whole."""
    grey = stripped_brain(radius=80, brightness=110).astype(float)
    distance = _distance(centre=(120, 130))
    grey[(distance <= 45) & (grey > 0)] = 55  # darker tissue around the lesion
    grey[distance <= 35] = 190  # the lesion: over 30% of the head
    grey = grey.astype(np.uint8)
    np.testing.assert_array_equal(brain_mask(grey), grey > HEAD_GREY_LEVEL)


def test_the_scalp_ring_beyond_a_dark_gap_is_taken_away():
    grey, disc, ring = skull_slice()
    mask = brain_mask(grey)
    assert not (mask & ring).any(), "scalp pixels kept"
    assert (mask & disc).sum() >= 0.95 * disc.sum(), f"only {(mask & disc).sum() / disc.sum():.1%} of the brain kept"
    out = extract_brain(grey)
    assert (out[ring] == 0).all() and np.array_equal(out[mask], grey[mask])


def test_none_returns_the_input_itself():
    grey, _, _ = skull_slice()
    assert extract_brain(grey, method="none") is grey
    assert "none" in METHODS and "classical-v1" in METHODS


def test_an_unknown_method_is_refused_by_name():
    with pytest.raises(ValueError, match=r"classical-v9.*none.*classical-v1"):
        extract_brain(np.zeros((8, 8), np.uint8), method="classical-v9")


@pytest.mark.parametrize("shape", [(240, 240), (240, 240, 1), (3, 240, 240, 1)])
def test_shape_and_dtype_are_kept(shape):
    grey, _, ring = skull_slice()
    images = {2: grey, 3: grey[..., None], 4: np.stack([grey[..., None]] * 3)}[len(shape)].copy()
    before = images.copy()
    out = extract_brain(images)
    assert out.shape == shape and out.dtype == np.uint8
    np.testing.assert_array_equal(images, before)  # the input is not changed
    flat = out.reshape(-1, 240, 240)
    assert all((picture[ring] == 0).all() for picture in flat)


def test_rgb_grey_is_masked_on_every_channel():
    grey, _, ring = skull_slice()
    out = extract_brain(np.repeat(grey[..., None], 3, axis=-1))
    assert out.shape == (240, 240, 3) and (out[ring] == 0).all()
    np.testing.assert_array_equal(out[..., 0], extract_brain(grey))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="2D"):
        brain_mask(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        brain_mask(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        extract_brain(np.zeros((8, 8), np.float32))
    assert not brain_mask(np.zeros((240, 240), np.uint8)).any()


def test_extraction_effect_counts_head_pixels_and_the_rim():
    skull, disc, _ = skull_slice()
    stripped = stripped_brain()
    effect = extraction_effect(np.stack([stripped, stripped]))
    assert effect["head pixels kept"] == 1.0 and effect["bright rim before"] == effect["bright rim after"]
    effect = extraction_effect(np.stack([skull])[..., None])
    assert effect["head pixels kept"] == pytest.approx(disc.sum() / (skull > HEAD_GREY_LEVEL).sum(), abs=0.02)
    assert effect["bright rim after"] < effect["bright rim before"]


def test_fill_holes_equals_scipy():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    masks = [rng.random((60, 50)) < p for p in (0.3, 0.5, 0.6, 0.75)] + [skull_slice()[0] > 40, stripped_brain() > 100]
    masks.append(np.zeros((5, 5), bool))
    for mask in masks:
        np.testing.assert_array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask))


def test_importing_the_module_loads_no_scipy():
    code = "import sys, braintumor.data.brain_extraction; print('scipy' in sys.modules)"
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert finished.stdout.strip() == "False", finished.stderr


# --------------------------------------------------------------------------------------
# The packed real data (skipped where it is not built; `make data` builds it, CI has it)
# --------------------------------------------------------------------------------------


def _packed(path, what):
    try:
        return load_npz(config.REPO_ROOT / path).images
    except DataError as error:
        pytest.skip(f"no packed {what} ({error})")


def _masks(images):
    return np.stack([brain_mask(picture[..., 0]) for picture in images])


def test_skull_stripped_training_slices_keep_their_heads():
    """On every row of A, the head pixels (input_check's: grey above HEAD_GREY_LEVEL) kept.
    Measured: all 3762 rows keep 100% of them (no slice is cut)."""
    images = _packed(config.NPZ_PATH, "training data (A)")
    heads = head_mask(images)
    kept = heads & _masks(images)
    pooled = kept.sum() / heads.sum()
    per_row = kept.sum(axis=(1, 2)) / np.maximum(heads.sum(axis=(1, 2)), 1)
    rows_whole = float((per_row >= 0.95).mean())
    print(f"A: {pooled:.4%} of head pixels kept over {len(images)} rows; {rows_whole:.2%} of rows keep >= 95% "
          f"of their head; worst row keeps {per_row.min():.1%}")
    assert pooled >= 0.98
    assert rows_whole >= 0.99


def test_lgg_slices_lose_their_bright_rim():
    """LGG FLAIR (skull on): the input check's bright-rim cue falls after extraction.
    Measured on the 2900 rows: mean 0.421 -> 0.355 (a fall of 0.066); the rim falls on 37%
    of the slices (the scalp is taken away on 47%); asserted with room: 0.04 and 25%."""
    images = _packed(LGG_NPZ_PATH, "LGG slices")
    masks = _masks(images)
    before = input_cues(images)["bright_rim"]
    # Where every head pixel is kept (no shell found) the cue cannot change: only background
    # pixels, at or under HEAD_GREY_LEVEL, go to 0. Measure the others only.
    cut = (head_mask(images) & ~masks).any(axis=(1, 2))
    after = before.copy()
    after[cut] = input_cues(np.where(masks[cut][..., None], images[cut], 0))["bright_rim"]
    fell = float((after < before).mean())
    print(f"LGG bright rim {before.mean():.3f} -> {after.mean():.3f}; fell on {fell:.1%} of {len(images)} slices")
    assert after.mean() <= before.mean() - 0.04
    assert fell >= 0.25
