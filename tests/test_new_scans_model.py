"""The new-scans model's record: the targets it is held to, scores kept with the weights they
describe, its configuration matching the variant the rule picked, and the views the documents
and notebooks print."""

import json

import pytest

from braintumor import config
from braintumor.reports import views
from braintumor.studies import base
from braintumor.studies.new_scans import model as new_scans_model, rule

RECORD = config.REPO_ROOT / "model" / "new_scans_study.json"


def _figures(auc, n=100, sensitivity=0.8, specificity=0.8):
    return {"n": n, "roc_auc": auc, "sensitivity": sensitivity, "specificity": specificity, "accuracy": 0.8}


def _record(scores=None, digest="aaa"):
    rows = [{"variant": rule.VARIANTS[1], "seed": seed, "held_out_site": site, "held_out_figures": {"roc_auc": auc}}
            for seed, aucs in ((42, (0.94, 0.92, 0.95)), (43, (0.95, 0.93, 0.96)))
            for site, auc in zip(rule.HELD_OUT_SITES, aucs)]
    rows.append({"variant": rule.VARIANTS[0], "seed": 42, "held_out_site": "CS", "held_out_figures": {"roc_auc": 0.5}})
    record = {"rows": rows, "pick": {"outcome": rule.VARIANTS[1], "worst_held_out_auc": 0.925,
                                     "single_source_worst_held_out_auc": 0.57},
              "default_model": rule.MODEL_NAME, "final": {"weights_sha256": digest}}
    if scores is not None:
        record["scores"] = scores
    return record


def test_targets_read_the_picks_rows_and_the_one_scoring():
    unscored = new_scans_model.targets(_record())
    assert unscored[0]["value"] == pytest.approx(0.92) and not unscored[0]["met"]  # the pick's lowest row, not 0.5
    assert all(t["value"] is None and not t["met"] for t in unscored[1:])
    scored = new_scans_model.targets(_record({"brain-tumor_test": _figures(0.99), "outside": _figures(0.86, specificity=0.7)}))
    met = {t["target"]: t["met"] for t in scored}
    assert met["ROC AUC, A test rows"] and met["ROC AUC, C"]
    assert met["sensitivity, C"] and not met["specificity, C"]


def test_a_retrain_with_other_weights_moves_the_scores_aside(tmp_path):
    path = tmp_path / "new_scans_study.json"
    scores = {"weights_sha256": "aaa", "outside": _figures(0.9)}
    kept = new_scans_model.record_final(path, _record(scores), {"weights_sha256": "aaa", "threshold": 0.5})
    assert kept["scores"] == scores and "scores_of_other_weights" not in kept
    moved = new_scans_model.record_final(path, _record(scores), {"weights_sha256": "bbb", "threshold": 0.5})
    assert moved["scores"] is None and moved["scores_of_other_weights"] == scores
    assert json.loads(path.read_text())["final"]["weights_sha256"] == "bbb"


def test_the_weights_digest_follows_the_weights_not_the_file():
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    first = base.weights_digest(model)
    assert base.weights_digest(model) == first and len(first) == 64
    weights = model.get_weights()
    model.set_weights([w + 1.0 for w in weights])
    assert base.weights_digest(model) != first


def test_the_default_entry_keeps_the_earlier_rule_as_history():
    earlier = {"name": "single-source", "rule": "site_default"}
    assert new_scans_model.default_model_entry(None, earlier) == earlier
    entry = new_scans_model.default_model_entry(_record(), earlier)
    assert entry["name"] == rule.MODEL_NAME and entry["decided_by"] == "new_scans_default" and entry["earlier"] == earlier


def test_the_committed_record_renders_as_a_table_with_the_single_source_model_last():
    record = json.loads(RECORD.read_text())
    table = views.new_scans_table(record)
    assert [v["variant"] for v in table["variants"]] == [v for v in rule.VARIANTS if any(r["variant"] == v for r in record["rows"])]
    rows = views.new_scans_rows(table)
    assert rows[-1]["variant"] == "single-source" and rows[-1]["worst site"] == pytest.approx(table["single_worst"])
    for v in table["variants"]:
        assert v["worst"] is None or v["worst"] == pytest.approx(min(v["mean"].values()))
        assert v["qualifies"] == (v["lowest_main_roc_auc"] >= rule.MIN_MAIN_ROC_AUC
                                  and v["lowest_main_matched_roc_auc"] >= rule.MIN_MAIN_MATCHED_ROC_AUC)
    if "pick" in record:  # the view's floors agree with the rule's own summaries
        for v in table["variants"]:
            assert v["qualifies"] == record["pick"]["summaries"][v["variant"]]["qualifies"]


def test_warning_rows_split_each_set():
    scores = {"outside": {**_figures(0.8), "by_warning": {"warned": {"n": 10, "roc_auc": 0.6}, "unwarned": {"n": 90, "roc_auc": 0.85}}}}
    (row,) = views.warning_rows(scores, {"outside": "outside scans C"})
    assert row["ROC AUC, warned"] == 0.6 and row["ROC AUC, unwarned"] == 0.85 and row["scans, warned"] == 10
