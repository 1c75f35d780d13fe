"""The held-out-site rules (`studies.site`), the pooled threshold rule, and the check
schedule's row sample: what they read and what they decide."""

import json

import numpy as np
import pytest

from braintumor import config
from braintumor.data.sources import Source, scheduled_source
from braintumor.data.splits import CHECK_TRAIN_ROWS, scheduled_rows
from braintumor.evaluation.metrics import choose_pooled_threshold
from braintumor.studies import site as site_study

SINGLE_A_ACCURACY = 0.990


def _row(variant, site, held_out_auc, main_accuracy=0.985):
    return {"variant": variant, "held_out_site": site, "held_out_figures": {"roc_auc": held_out_auc},
            "validation": {"brain-tumor": {"accuracy": main_accuracy}, "lgg": {"accuracy": 0.9}}}


def _rows(variant, aucs, main_accuracy=0.985):
    return [_row(variant, site, auc, main_accuracy) for site, auc in zip(site_study.HELD_OUT_SITES, aucs)]


@pytest.fixture
def two_variants(monkeypatch):
    from braintumor.studies.site import rules  # where the rules read it (the package face re-exports it)

    monkeypatch.setattr(rules, "VARIANTS", {"photometric": {}, "scanner": {"scanner": True}})


def test_the_pick_reads_the_worst_held_out_site(two_variants):
    rows = _rows("photometric", [0.99, 0.80, 0.97]) + _rows("scanner", [0.95, 0.90, 0.93])
    pick = site_study.pick_variant(rows, SINGLE_A_ACCURACY)
    assert pick["outcome"] == pick["candidate"] == "scanner"  # worst 0.90 beats worst 0.80
    assert pick["summaries"]["photometric"]["worst_held_out_auc"] == 0.80


def test_near_ties_go_to_the_higher_mean_then_the_earlier_variant(two_variants):
    tie = _rows("photometric", [0.95, 0.900, 0.95]) + _rows("scanner", [0.99, 0.903, 0.99])
    assert site_study.pick_variant(tie, SINGLE_A_ACCURACY)["outcome"] == "scanner"
    same = _rows("photometric", [0.9, 0.9, 0.9]) + _rows("scanner", [0.9, 0.9, 0.9])
    assert site_study.pick_variant(same, SINGLE_A_ACCURACY)["outcome"] == "photometric"


def test_a_variant_that_costs_the_main_set_too_much_is_not_picked(two_variants):
    rows = _rows("photometric", [0.99, 0.99, 0.99], main_accuracy=0.970) + _rows("scanner", [0.9, 0.9, 0.9])
    assert site_study.pick_variant(rows, SINGLE_A_ACCURACY)["outcome"] == "scanner"  # 2 points below 0.990


def test_the_written_fallback_when_no_variant_qualifies(two_variants):
    rows = _rows("photometric", [0.99, 0.99, 0.99], main_accuracy=0.95) + _rows("scanner", [0.9, 0.9, 0.9], 0.96)
    pick = site_study.pick_variant(rows, SINGLE_A_ACCURACY)
    assert pick["outcome"] == site_study.NO_VARIANT_QUALIFIED
    assert pick["candidate"] == "scanner"  # the highest lowest A validation accuracy
    # ... and such a candidate can never become the default, whatever its figures
    assert not site_study.site_model_is_default(pick, {"CS": 0.5, "DU": 0.5, "FG": 0.5}, 0.99, SINGLE_A_ACCURACY)


def test_the_summary_needs_every_held_out_site():
    with pytest.raises(ValueError, match="lacks rows for sites"):
        site_study.variant_summary(_rows("photometric", [0.9, 0.9, 0.9])[:2], "photometric", SINGLE_A_ACCURACY)


def test_the_default_rule_needs_both_conditions():
    pick = site_study.pick_variant(_rows("photometric", [0.96, 0.95, 0.97]), SINGLE_A_ACCURACY)
    single = {"CS": 0.70, "DU": 0.60, "FG": 0.65}
    assert site_study.site_model_is_default(pick, single, 0.980, SINGLE_A_ACCURACY)
    assert not site_study.site_model_is_default(pick, {"CS": 0.99, "DU": 0.96, "FG": 0.99}, 0.980, SINGLE_A_ACCURACY)
    assert not site_study.site_model_is_default(pick, single, 0.970, SINGLE_A_ACCURACY)  # 2 points lost on A


def _lgg_like():
    names = np.array([f"TCGA_{site}_{k:04d}_20000101/{n}" for site, k in (("CS", 1), ("DU", 2), ("FG", 3), ("EZ", 4))
                      for n in range(1, 7)])
    split = np.tile(["train", "train", "val", "val", "test", "test"], 4)
    labels = np.tile([0, 1], 12)
    images = np.arange(24, dtype=np.uint8).reshape(24, 1, 1, 1) * np.ones((1, 2, 2, 1), np.uint8)
    groups = np.repeat(np.arange(4), 6)
    return Source(name="lgg", images=images, labels=labels, names=names, groups=groups, split=split)


def test_a_row_never_sees_its_held_out_site_and_is_scored_on_its_train_and_val_rows():
    source = _lgg_like()
    assert set(site_study.site_of(site_study.without_site(source, "DU").names)) == {"CS", "FG", "EZ"}
    held = site_study.held_out_rows(source, "DU")
    assert len(held["labels"]) == 4 and all("_DU_" in name for name in held["names"])
    with pytest.raises(ValueError, match="unknown held-out site"):
        site_study.without_site(source, "EZ")  # one patient: it always trains


def test_b_is_not_a_training_source():
    assert "extra" not in site_study.TRAINING_SOURCES


def test_pooled_threshold_weighs_each_source_and_class_alike():
    # Source 0: many rows, separable at 0.7. Source 1: few rows, separable at 0.3.
    # The pooled-accuracy optimum would follow source 0 alone; the rule's optimum serves both.
    p0 = np.concatenate([np.full(90, 0.6), np.full(90, 0.8)])
    y0 = np.concatenate([np.zeros(90), np.ones(90)])
    p1 = np.array([0.2, 0.2, 0.65, 0.65])
    y1 = np.array([0, 0, 1, 1])
    threshold = choose_pooled_threshold(np.concatenate([y0, y1]), np.concatenate([p0, p1]),
                                        np.concatenate([np.zeros(180), np.ones(4)]))
    assert 0.6 < threshold <= 0.65  # both sources perfectly separated, nearest 0.5 among the best
    with pytest.raises(ValueError, match="one class only"):
        choose_pooled_threshold([0, 0, 1], [0.1, 0.2, 0.9], [0, 0, 1])


def test_check_schedule_samples_train_rows_by_class_and_leaves_full_alone():
    rng = np.random.default_rng(0)
    labels = (rng.random(2000) < 0.3).astype(int)
    part = {"images": np.arange(2000), "labels": labels}
    assert scheduled_rows(part, "full") is part
    sample = scheduled_rows(part, "check")
    assert len(sample["labels"]) == CHECK_TRAIN_ROWS
    assert abs(sample["labels"].mean() - labels.mean()) < 0.01
    assert np.all(np.diff(sample["images"]) > 0)  # kept in their order
    np.testing.assert_array_equal(scheduled_rows(part, "check")["images"], sample["images"])  # seeded
    with pytest.raises(ValueError, match="unknown schedule"):
        scheduled_rows(part, "quick")


def test_check_schedule_cuts_only_a_sources_train_rows():
    source = _lgg_like()
    cut = scheduled_source(source, "check", seed=0)
    assert cut is not source and len(cut.labels) == len(source.labels)  # 8 train rows < the sample size
    assert scheduled_source(source, "full") is source


def test_committed_site_study_follows_its_rules():
    path = config.REPO_ROOT / config.MODEL_DIR / "site_study.json"
    if not path.is_file():
        pytest.skip("no committed held-out-site study yet")
    record = json.loads(path.read_text())
    if "pick" not in record:
        pytest.skip("the held-out-site study's rows are not all trained yet")
    single = record["single_source"]
    pick = site_study.pick_variant(record["rows"], single["validation"]["brain-tumor"]["accuracy"])
    assert pick["outcome"] == record["pick"]["outcome"]
    default = site_study.site_model_is_default(
        pick, {site: figures["roc_auc"] for site, figures in single["held_out"].items()},
        record["final"]["validation"]["brain-tumor"]["accuracy"], single["validation"]["brain-tumor"]["accuracy"])
    assert record["default_model"] == ("a-lgg" if default else "single-source")


def test_the_score_step_refuses_a_second_look_before_loading_any_data(tmp_path):
    import shutil

    from braintumor.cli import main

    committed = config.REPO_ROOT / config.MODEL_DIR / "site_study.json"
    if not committed.is_file() or "scores" not in json.loads(committed.read_text()):
        pytest.skip("the held-out-site study has not been scored")
    record = tmp_path / "site_study.json"
    shutil.copy(committed, record)
    with pytest.raises(SystemExit, match="scored already.*another look"):
        main(["study", "site", "score", "--record", str(record)])
    assert record.read_bytes() == committed.read_bytes()  # nothing written
    empty = tmp_path / "empty.json"
    with pytest.raises(SystemExit, match="final. first"):
        main(["study", "site", "score", "--record", str(empty)])
