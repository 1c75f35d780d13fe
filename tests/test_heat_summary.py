"""Grad-CAM heat statistics over every scan: border band share and the per-group summary."""

from __future__ import annotations

import numpy as np
import pytest

from braintumor.evaluation import analysis
from braintumor.evaluation import gradcam
from braintumor.evaluation.analysis import border_mask, gradcam_heat_summary, heat_share_on_border

SIZE = 240


def test_border_mask_is_the_outer_band():
    mask = border_mask(10, 2)
    assert mask.sum() == 100 - 36
    assert mask[0].all() and mask[:, -1].all() and not mask[2:8, 2:8].any()
    assert border_mask(240, 16).mean() == pytest.approx(1 - (208 / 240) ** 2)
    with pytest.raises(ValueError, match="fit"):
        border_mask(10, 6)


def test_heat_share_on_border():
    heat = np.zeros((3, SIZE, SIZE))
    heat[0, :16, :] = 1.0  # all on the top band
    heat[1, 100:140, 100:140] = 1.0  # all in the middle
    # heat[2] blank: no share to speak of
    shares = heat_share_on_border(heat, width=16)
    assert shares[:2].tolist() == [1.0, 0.0] and np.isnan(shares[2])
    even = heat_share_on_border(np.ones((1, SIZE, SIZE)), width=16)[0]
    assert even == pytest.approx(border_mask(SIZE, 16).mean())
    with pytest.raises(ValueError, match="square"):
        heat_share_on_border(np.ones((SIZE, SIZE)))


def synthetic_scans():
    """Four scans with a bright square 'head' in the middle; a map per scan by design."""
    images = np.zeros((4, SIZE, SIZE, 1), dtype=np.uint8)
    images[:, 60:180, 60:180] = 100
    images[:, 60:72, 60:180] = 250  # brightest tenth of the head: its top 12 rows
    maps = np.zeros((4, SIZE, SIZE), dtype=np.float32)
    maps[0, 100:120, 100:120] = 1.0  # on the head, not bright, not border
    maps[1, 60:72, 100:120] = 1.0  # on the bright part of the head
    maps[2, :16, :] = 1.0  # a frame band at the top: border and background
    # maps[3] stays blank
    return images, maps


def test_summary_splits_correct_and_misclassified(monkeypatch):
    images, maps = synthetic_scans()
    calls = []

    def fake_gradcam(model, batch):
        start = sum(calls)
        calls.append(len(batch))
        return maps[start:start + len(batch)]

    monkeypatch.setattr(gradcam, "gradcam", fake_gradcam)
    labels = np.array([1, 1, 1, 0])
    probability = np.array([0.9, 0.8, 0.1, 0.2])  # scan 2 is a missed tumour

    summary = gradcam_heat_summary(None, images, labels, probability, threshold=0.5, batch_size=3)

    assert calls == [3, 1]  # batches of at most batch_size
    assert summary["misclassified_n"] == 1 and summary["correct_n"] == 3
    assert summary["misclassified_mean"] == 0.0 and summary["misclassified_border"] == 1.0
    assert summary["misclassified_border_heavy"] == 1 and summary["misclassified_bright"] == 0.0
    assert summary["correct_blank"] == 1 and summary["misclassified_blank"] == 0
    assert summary["correct_mean"] == 1.0  # the blank map is left out of the means
    assert summary["correct_bright"] == pytest.approx(0.5)
    assert summary["correct_border"] == 0.0 and summary["correct_border_heavy"] == 0
    assert summary["head_fraction"] == pytest.approx(0.25)
    assert summary["border_fraction"] == pytest.approx(border_mask(SIZE, 16).mean())
    assert summary["border_width"] == analysis.BORDER_WIDTH


def test_summary_with_no_misclassified_scan_gives_nan_not_a_warning(monkeypatch):
    images, maps = synthetic_scans()
    monkeypatch.setattr(gradcam, "gradcam", lambda model, batch: maps[: len(batch)])
    with np.errstate(all="raise"):
        summary = gradcam_heat_summary(None, images[:2], [1, 1], [0.9, 0.9], threshold=0.5)
    assert summary["misclassified_n"] == 0 and np.isnan(summary["misclassified_mean"])
    assert np.isnan(summary["misclassified_border"]) and summary["misclassified_border_heavy"] == 0


def test_summary_rejects_mismatched_inputs():
    images, _ = synthetic_scans()
    with pytest.raises(ValueError, match="differ"):
        gradcam_heat_summary(None, images, [1, 0], [0.5, 0.5, 0.5, 0.5], 0.5)
    with pytest.raises(ValueError, match="batch_size"):
        gradcam_heat_summary(None, images, [1] * 4, [0.5] * 4, 0.5, batch_size=0)


def test_summary_on_a_tiny_model_matches_one_pass():
    from braintumor.models.networks import build_improved_cnn

    model = build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1)
    images = np.random.default_rng(1).integers(0, 256, (5, SIZE, SIZE, 1)).astype(np.uint8)
    labels = np.array([0, 1, 0, 1, 1])
    probability = np.array([0.2, 0.3, 0.7, 0.9, 0.6])

    batched = gradcam_heat_summary(model, images, labels, probability, 0.5, batch_size=2)
    whole = gradcam_heat_summary(model, images, labels, probability, 0.5, batch_size=64)

    assert batched["misclassified_n"] == 2 and batched["correct_n"] == 3
    for key, value in whole.items():
        assert batched[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
    maps = gradcam.gradcam(model, images)
    wrong = [1, 2]
    assert whole["misclassified_border"] == pytest.approx(np.nanmean(heat_share_on_border(maps[wrong])), abs=1e-6)
