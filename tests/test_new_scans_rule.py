"""The rule that chooses `predict`'s default for scans from elsewhere (decision `new_scans_default`)."""

import json

import pytest

from braintumor import config
from braintumor.studies.new_scans import rule as new_scans
from braintumor.studies.site import HELD_OUT_SITES

SINGLE = {"CS": 0.629, "DU": 0.574, "FG": 0.631}  # the single-source model on the held-out-site rows


def _rows(variant, held_out, main_auc=0.99, matched=0.97, seeds=(42,)):
    return [{"variant": variant, "seed": seed, "held_out_site": site, "held_out_figures": {"roc_auc": auc},
             "validation": {"brain-tumor": {"roc_auc": main_auc, "matched": {"roc_auc": matched}}}}
            for seed in seeds for site, auc in zip(HELD_OUT_SITES, held_out)]


def test_the_rule_is_written_with_absolute_floors_and_at_most_three_variants():
    assert len(new_scans.VARIANTS) <= 3 and len(new_scans.SEEDS) >= 1
    assert new_scans.MIN_MAIN_ROC_AUC >= 0.98 and new_scans.MIN_MAIN_MATCHED_ROC_AUC >= 0.96 and new_scans.MARGIN > 0
    assert "supersedes" in new_scans.decision("new_scans_default").title


def test_the_best_worst_site_among_qualifying_variants_is_picked():
    first, second, third = new_scans.VARIANTS
    rows = (_rows(first, (0.93, 0.92, 0.95)) + _rows(second, (0.95, 0.94, 0.96), main_auc=0.975)  # fails A's floor
            + _rows(third, (0.94, 0.93, 0.96)))
    pick = new_scans.new_scans_pick(rows, SINGLE)
    assert pick["outcome"] == third and pick["default_model"] == new_scans.MODEL_NAME == "new-scans"
    assert not pick["summaries"][second]["qualifies"]


def test_seeds_are_averaged_per_site_and_the_matched_floor_counts():
    first, second, _ = new_scans.VARIANTS
    rows = (_rows(first, (0.90, 0.90, 0.90), seeds=(42,)) + _rows(first, (0.96, 0.96, 0.96), seeds=(43,))
            + _rows(second, (0.99, 0.99, 0.99), matched=0.95) + _rows(new_scans.VARIANTS[2], (0.5, 0.5, 0.5)))
    pick = new_scans.new_scans_pick(rows, SINGLE)
    assert pick["outcome"] == first and pick["worst_held_out_auc"] == pytest.approx(0.93)
    assert pick["summaries"][first]["seeds"] == [42, 43]


def test_the_margin_over_the_single_source_model_decides_the_default():
    rows = [row for variant in new_scans.VARIANTS for row in _rows(variant, (0.66, 0.66, 0.66))]
    pick = new_scans.new_scans_pick(rows, SINGLE)  # 0.66 < 0.574 + margin
    assert pick["outcome"] == new_scans.VARIANTS[0] and pick["default_model"] == new_scans.SINGLE_SOURCE


def test_the_fallback_keeps_the_single_source_model_when_none_qualifies():
    rows = [row for variant in new_scans.VARIANTS for row in _rows(variant, (0.95, 0.95, 0.95), main_auc=0.9)]
    pick = new_scans.new_scans_pick(rows, SINGLE)
    assert pick["outcome"] == new_scans.NO_VARIANT_QUALIFIED and pick["default_model"] == new_scans.SINGLE_SOURCE


def test_a_variant_without_a_site_row_is_an_error():
    with pytest.raises(ValueError, match="no row for site"):
        new_scans.variant_summary(_rows(new_scans.VARIANTS[0], (0.9, 0.9, 0.9))[:2], new_scans.VARIANTS[0])


def test_the_committed_record_holds_the_rule_and_no_row_ran_before_it():
    record = json.loads((config.REPO_ROOT / "model/new_scans_study.json").read_text())
    assert record["rule"] == new_scans.RULE and record["variants"] == list(new_scans.VARIANTS)
    assert all(row["variant"] in new_scans.VARIANTS for row in record["rows"])
