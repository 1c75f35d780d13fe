"""scripts/recompute_auc_intervals.py replaces recorded ROC AUC intervals only where every other figure agrees."""

import importlib.util

import pytest

from braintumor import config

_spec = importlib.util.spec_from_file_location("recompute_auc_intervals",
                                               config.REPO_ROOT / "scripts" / "recompute_auc_intervals.py")
recompute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recompute)


def _entry(auc=0.95, interval=(0.9, 0.99), tp=40):
    return {"n": 100, "roc_auc": auc, "ci95": {"accuracy": [0.8, 0.9], "roc_auc": list(interval)},
            "confusion": {"tp": tp, "fn": 10}, "matched": {"n_pairs": 20, "roc_auc": auc, "roc_auc_ci95": list(interval)}}


def test_only_the_roc_auc_intervals_are_replaced_and_each_is_noted():
    recorded, changes = {"test": _entry(), "rows": [_entry()]}, []
    recompute.transplant_intervals(recorded, {"test": _entry(interval=(0.88, 0.98)), "rows": [_entry(interval=(0.8, 0.97))],
                                              "added_since": 1}, "r", changes)
    assert recorded == {"test": _entry(interval=(0.88, 0.98)), "rows": [_entry(interval=(0.8, 0.97))]}
    assert sorted(where for where, _, _ in changes) == ["r.rows[0].ci95.roc_auc", "r.rows[0].matched.roc_auc_ci95",
                                                        "r.test.ci95.roc_auc", "r.test.matched.roc_auc_ci95"]


@pytest.mark.parametrize("recomputed", [
    _entry(auc=0.951),  # another ROC AUC: other probabilities
    _entry(tp=41),  # another count
    {key: value for key, value in _entry().items() if key != "n"},  # a recorded figure missing
    {**_entry(), "ci95": {"accuracy": [0.8, 0.91], "roc_auc": [0.9, 0.99]}},  # a Wilson interval moved
])
def test_a_record_that_does_not_describe_the_recomputed_probabilities_stops_the_script(recomputed):
    recorded = _entry()
    with pytest.raises(SystemExit):
        recompute.transplant_intervals(recorded, recomputed, "r", [])
    assert recorded == _entry()


def test_missing_figures_match_whether_written_as_none_or_nan():
    recorded, recomputed = {**_entry(), "specificity": None}, {**_entry(), "specificity": float("nan")}
    recompute.transplant_intervals(recorded, recomputed, "r", [])
