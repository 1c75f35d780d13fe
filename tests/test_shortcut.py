"""Slice-level cues, the cue classifier's grouped CV, head-size matching and tertiles."""

from __future__ import annotations

import numpy as np
import pytest

from braintumor.evaluation.shortcut import (
    CUE_NAMES,
    PAIRING_RULE,
    cross_validated_cue_scores,
    head_size_matched_pairs,
    matched_metrics,
    out_of_fold_matched_summary,
    slice_cues,
    tertile_metrics,
)


def _disc_scans(radii, grey=120, size=240):
    """Black scans with a centred bright disc of each radius (pixels)."""
    rows, cols = np.mgrid[:size, :size] - (size - 1) / 2
    distance = np.hypot(rows, cols)
    return np.stack([np.where(distance <= r, grey, 0) for r in radii]).astype(np.uint8)[..., None]


def test_slice_cues_on_known_shapes():
    images = np.zeros((3, 240, 240, 1), np.uint8)
    images[1, 60:180, 30:90] = 200  # 120 rows x 60 columns
    images[2] = 10  # below the head threshold everywhere
    cues = slice_cues(images)
    assert tuple(cues.columns) == CUE_NAMES
    np.testing.assert_allclose(cues.loc[1].to_numpy(), [120 * 60 / 240**2, 0.5, 0.25, 200, 200 * 120 * 60 / 240**2])
    np.testing.assert_allclose(cues.loc[0].to_numpy(), 0)
    np.testing.assert_allclose(cues.loc[2].to_numpy(), [0, 0, 0, 0, 10])


def test_slice_cues_chunks_agree():
    images = _disc_scans(np.linspace(10, 110, 300))
    cues = slice_cues(images)
    one_by_one = np.concatenate([slice_cues(images[i:i + 1]).to_numpy() for i in range(0, 300, 37)])
    np.testing.assert_allclose(cues.to_numpy()[::37], one_by_one)
    assert (np.diff(cues["head_area"]) >= 0).all()


def test_cross_validation_reads_the_confound():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 60)
    radii = np.where(labels == 1, rng.uniform(70, 100, 120), rng.uniform(30, 60, 120))
    cues = slice_cues(_disc_scans(radii))
    groups = np.arange(120) // 2  # pairs of neighbours share a group
    scores = cross_validated_cue_scores(cues, labels, groups, seed=0, folds=3)
    assert len(scores["folds"]) == 3 and sum(f["n"] for f in scores["folds"]) == 120
    assert scores["summary"]["roc_auc"]["mean"] == pytest.approx(1.0)
    assert set(scores["summary"]) == {"accuracy", "sensitivity", "specificity", "roc_auc"}
    assert scores == cross_validated_cue_scores(cues, labels, groups, seed=0, folds=3)


def test_pairs_follow_the_rule():
    area = np.array([10, 30, 11.5, 20, 50, 19, 10.25, 21])  # exact in binary: ties are ties
    labels = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    pairs = head_size_matched_pairs(area, labels, max_gap=2)
    # tumours by area: 6 (10.25) takes 0 (10) first, so 2 (11.5) finds no free scan within 2;
    # 3 (20) has 5 and 7 at equal gaps and takes the lower index; 4 (50) has none.
    assert pairs.tolist() == [[0, 6], [5, 3]]
    assert pairs.dtype.kind == "i"
    assert "ascending order of head area" in PAIRING_RULE
    assert head_size_matched_pairs(area, np.ones(8)).shape == (0, 2)


def test_pairs_are_within_gap_and_unique():
    rng = np.random.default_rng(1)
    area, labels = rng.uniform(0, 0.4, 500), rng.integers(0, 2, 500)
    pairs = head_size_matched_pairs(area, labels, max_gap=0.005)
    assert (labels[pairs[:, 0]] == 0).all() and (labels[pairs[:, 1]] == 1).all()
    assert (np.abs(area[pairs[:, 0]] - area[pairs[:, 1]]) <= 0.005).all()
    assert len(np.unique(pairs)) == pairs.size
    np.testing.assert_array_equal(pairs, head_size_matched_pairs(area, labels, max_gap=0.005))


def test_matched_metrics_use_only_the_pairs():
    labels = np.array([0, 1, 0, 1, 1])
    probability = np.array([0.1, 0.9, 0.8, 0.2, 0.99])
    area = np.array([0.1, 0.11, 0.3, 0.3, 0.9])
    result = matched_metrics(labels, probability, 0.5, [[0, 1], [2, 3]], head_area=area)
    assert result["n"] == 4 and result["n_pairs"] == 2
    assert result["accuracy"] == 0.5 and result["sensitivity"] == 0.5 and result["specificity"] == 0.5
    assert result["head_area_median"] == pytest.approx({"no_tumour": 0.2, "tumour": 0.205})
    assert "ci95" in result


def test_tertiles_split_and_guard_one_class():
    area = np.arange(9) / 10
    labels = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1])
    probability = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.1])
    rows = tertile_metrics(area, labels, probability, 0.5)
    assert [r["n"] for r in rows] == [3, 3, 3] and [r["tumours"] for r in rows] == [0, 1, 3]
    assert rows[0]["roc_auc"] is None and rows[0]["sensitivity"] is None and rows[0]["specificity"] == 1.0
    assert rows[0]["ci95"]["roc_auc"] == [None, None]
    assert rows[1]["roc_auc"] == 0.5 and rows[1]["accuracy"] == pytest.approx(2 / 3)
    assert rows[2]["specificity"] is None and rows[2]["sensitivity"] == pytest.approx(2 / 3)
    assert rows[0]["head_area_range"][0] == 0 and rows[2]["head_area_range"][1] == pytest.approx(0.8)


def test_left_right_asymmetry_is_zero_for_a_mirror_symmetric_head_and_pooled_cues_add_the_source():
    from braintumor.evaluation.shortcut import POOLED_CUE_NAMES, left_right_asymmetry, pooled_cues

    symmetric = np.zeros((240, 240), np.uint8)
    symmetric[60:180, 40:200] = 150
    lopsided = symmetric.copy()
    lopsided[60:180, 40:100] = 250
    images = np.stack([symmetric, lopsided])[..., None]
    asymmetry = left_right_asymmetry(images)
    assert asymmetry[0] == 0 and asymmetry[1] > 20
    cues = pooled_cues(images, [0, 1])
    assert list(cues.columns) == list(POOLED_CUE_NAMES) and cues["source"].tolist() == [0.0, 1.0]


def test_out_of_fold_matched_summary_scores_pooled_pairs_and_refuses_unfinished_folds():
    # Pairs by head area: (0, 1) and (2, 3); scan 4 (a tumour with a large head) has no partner.
    labels = np.array([0, 1, 0, 1, 1])
    area = np.array([0.1, 0.1, 0.3, 0.3, 0.9])
    folds = {"plain": [{"accuracy": 0.8, "matched": {"accuracy": 0.5, "roc_auc": 0.5}},
                       {"accuracy": 0.6, "matched": {"accuracy": 1.0, "roc_auc": 1.0}}]}
    ranked = out_of_fold_matched_summary(labels, area, {"plain": [0.1, 0.9, 0.2, 0.8, 0.0]}, folds)
    assert ranked["pairing_rule"] == PAIRING_RULE
    assert ranked["plain"]["n_pairs"] == 2 and ranked["plain"]["roc_auc"] == 1.0
    assert ranked["plain"]["fold_accuracy_mean"] == pytest.approx(0.7)
    assert ranked["plain"]["fold_matched_accuracy_mean"] == pytest.approx(0.75)
    # The unpaired scan does not count: a wrong score on it leaves the matched AUC alone,
    # while one inverted pair halves it.
    inverted = out_of_fold_matched_summary(labels, area, {"plain": [0.1, 0.9, 0.8, 0.2, 0.0]}, folds)
    assert inverted["plain"]["roc_auc"] == 0.75
    with pytest.raises(ValueError, match="no out-of-fold probability"):
        out_of_fold_matched_summary(labels, area, {"plain": [0.1, 0.9, None, 0.8, 0.0]}, folds)


def test_head_area_balanced_weights_make_head_size_useless_as_a_cue():
    from braintumor.evaluation.shortcut import head_area_balanced_weights, head_area_bin_edges

    rng = np.random.default_rng(0)
    # Healthy scans mostly small, tumours mostly large: head area predicts the label.
    labels = np.repeat([0, 1], [300, 200])
    area = np.where(labels == 0, rng.uniform(0.05, 0.25, 500), rng.uniform(0.15, 0.35, 500))
    edges = head_area_bin_edges(area)
    assert len(edges) == 4
    weights = head_area_balanced_weights(area, labels, edges)
    bin_of = np.searchsorted(edges, area, side="right")
    for b in np.unique(bin_of):
        inside = bin_of == b
        healthy, tumour = weights[inside & (labels == 0)].sum(), weights[inside & (labels == 1)].sum()
        if healthy and tumour:
            assert healthy == pytest.approx(tumour)  # within a bin the label is a coin toss
        assert weights[inside].sum() == pytest.approx(inside.sum())  # each bin keeps its weight
    # Held-out scans are binned at the training scans' edges.
    assert head_area_balanced_weights([0.01, 0.5], [0, 1], edges).shape == (2,)


def test_head_area_training_weights_cut_bins_on_the_training_scans_only():
    from braintumor.evaluation.shortcut import head_area_balanced_weights, head_area_bin_edges, head_area_training_weights

    rng = np.random.default_rng(1)
    fit_area, fit_labels = rng.uniform(0.05, 0.35, 200), rng.integers(0, 2, 200)
    stop_area, stop_labels = rng.uniform(0.3, 0.5, 40), rng.integers(0, 2, 40)  # larger heads than training
    weights = head_area_training_weights(fit_area, fit_labels, stop_area, stop_labels)
    edges = head_area_bin_edges(fit_area)
    np.testing.assert_array_equal(weights["sample_weight"], head_area_balanced_weights(fit_area, fit_labels, edges))
    np.testing.assert_array_equal(weights["val_sample_weight"],
                                  head_area_balanced_weights(stop_area, stop_labels, edges))
    assert not np.array_equal(weights["val_sample_weight"],  # not re-binned on the early-stopping scans
                              head_area_balanced_weights(stop_area, stop_labels, head_area_bin_edges(stop_area)))
