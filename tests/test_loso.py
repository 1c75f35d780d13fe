"""The leave-one-source-out rules: what they read and what they pick."""

import json

import pytest

from braintumor import config
from braintumor.studies import loso


def _row(variant, held_out, held_out_auc, own_auc=0.97):
    return {"variant": variant, "held_out": held_out, "held_out_figures": {"roc_auc": held_out_auc},
            "validation": {source: {"roc_auc": own_auc} for source in loso.pair_of(held_out)}}


def _rows(variant, aucs, own_auc=0.97):
    return [_row(variant, source, auc, own_auc) for source, auc in zip(loso.SOURCES, aucs)]


def test_pairs_leave_one_source_out():
    assert loso.pair_of("extra") == ("brain-tumor", "lgg")
    with pytest.raises(ValueError, match="unknown source"):
        loso.pair_of("outside")


def test_pick_reads_the_worst_held_out_source():
    rows = _rows("photometric", [0.95, 0.60, 0.90]) + _rows("scanner_standardised", [0.90, 0.70, 0.80])
    assert loso.pick_variant(rows) == "scanner_standardised"  # worst 0.70 beats worst 0.60


def test_near_ties_go_to_the_higher_mean_then_the_earlier_variant():
    tie = _rows("photometric", [0.95, 0.700, 0.90]) + _rows("scanner_standardised", [0.99, 0.703, 0.95])
    assert loso.pick_variant(tie) == "scanner_standardised"
    same = _rows("photometric", [0.9, 0.7, 0.9]) + _rows("scanner_standardised", [0.9, 0.7, 0.9])
    assert loso.pick_variant(same) == "photometric"


def test_a_variant_that_fails_its_own_validation_is_not_picked():
    rows = _rows("photometric", [0.9, 0.6, 0.9]) + _rows("scanner_standardised", [0.9, 0.8, 0.9], own_auc=0.85)
    assert loso.pick_variant(rows) == "photometric"


def test_the_written_rule_has_no_fallback_and_the_recorded_one_is_separate():
    rows = _rows("photometric", [0.9, 0.6, 0.9], own_auc=0.85) + _rows("scanner_standardised", [0.9, 0.5, 0.9],
                                                                         own_auc=0.85)
    assert loso.pick_variant(rows) == loso.NO_VARIANT_QUALIFIED == "no variant qualified"
    assert loso.fallback_variant(rows) == loso.trained_variant(rows) == "photometric"  # loso_fallback: floor left out
    qualified = _rows("photometric", [0.9, 0.6, 0.9]) + _rows("scanner_standardised", [0.9, 0.8, 0.9], own_auc=0.85)
    assert loso.trained_variant(qualified) == loso.pick_variant(qualified) == "photometric"


def test_summary_needs_every_held_out_source():
    with pytest.raises(ValueError, match="lacks rows"):
        loso.variant_summary(_rows("photometric", [0.9, 0.8, 0.7])[:2], "photometric")


def test_default_rule_needs_both_conditions():
    unseen = {"extra": 0.55, "lgg": 0.60}
    assert loso.all_source_is_default(0.70, unseen, 0.980, 0.990)
    assert not loso.all_source_is_default(0.50, unseen, 0.990, 0.990)  # no better where it never trained
    assert not loso.all_source_is_default(0.70, unseen, 0.970, 0.990)  # costs the main set 2 points


def test_committed_study_follows_its_rules():
    path = config.REPO_ROOT / config.MODEL_DIR / "loso_study.json"
    if not path.is_file():
        pytest.skip("no committed leave-one-source-out study yet")
    record = json.loads(path.read_text())
    if "picked_by_written_rule" not in record:
        pytest.skip("the study has not picked yet")
    # The written rule's outcome, and the variant trained (the fallback's, recorded after the figures)
    assert record["picked_by_written_rule"] == loso.pick_variant(record["rows"])
    assert record["picked"] == loso.trained_variant(record["rows"]) == record["all_source"]["variant"]
    assert record["pick_rule"] == loso.PICK_RULE and record["default_rule"] == loso.DEFAULT_RULE


def test_the_rules_outcome_is_a_shipped_model():
    # history: `predict`'s default is the rule in force's outcome (configs/default_model.toml, tests/test_roles.py)
    from braintumor.models.specs import SPECS

    path = config.REPO_ROOT / config.MODEL_DIR / "loso_study.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    if "default_model" not in record:
        pytest.skip("the leave-one-source-out study has not chosen the default yet")
    assert record["default_model"] in SPECS


def test_pair_models_train_on_the_all_source_caps_each_once(monkeypatch):
    """`models.training.train` caps the pair's sources by model/studies/all-source/config.toml (the study caps
    nothing itself), so each source gives at most TRAIN_CAP train and VAL_CAP validation rows."""
    import numpy as np

    from braintumor.data.sources import Source
    from braintumor.models import networks, training
    from braintumor.studies.loso.scoring import MODEL_NAME

    def source(name, n=1400):
        labels = (np.arange(n) % 4 == 0).astype(int)  # a quarter tumour
        split = np.where(np.arange(n) < 800, "train", np.where(np.arange(n) < 1200, "val", "test"))
        return Source(name=name, images=np.zeros((n, 2, 2, 1), np.uint8), labels=labels,
                      names=np.array([f"{name}{i}" for i in range(n)]), groups=np.arange(n), split=split)

    seen = []
    monkeypatch.setattr(networks, "set_determinism", lambda seed: None)
    monkeypatch.setattr(networks, "build_improved_cnn", lambda **_: "network")
    monkeypatch.setattr(networks, "train", lambda model, x, y, xv, yv, **_: seen.append((y, yv)) or "fit")
    _, _, trained = training.train(MODEL_NAME, sources=[source(name) for name in loso.pair_of("lgg")])
    train_labels, val_labels = seen[0]
    assert trained == {name: loso.TRAIN_CAP for name in loso.pair_of("lgg")}
    assert len(train_labels) == 2 * loso.TRAIN_CAP and len(val_labels) == 2 * loso.VAL_CAP  # no test row
    assert train_labels.mean() == 0.25  # class shares kept


def _record():
    figures = {"roc_auc": 0.6, "sensitivity": 0.5, "specificity": 0.7, "accuracy": 0.6}
    rows = []
    for variant in loso.VARIANTS:
        for held_out in loso.SOURCES:
            rows.append({"variant": variant, "held_out": held_out, "sources": list(loso.pair_of(held_out)),
                         "held_out_figures": figures,
                         "validation": {s: {"roc_auc": 0.95} for s in loso.pair_of(held_out)}})
    return {"rows": rows, "single_source": {"validation": {"brain-tumor": {"roc_auc": 0.99, "accuracy": 0.99}},
                                             "held_out": {"extra": figures, "lgg": figures}}}


def test_table_has_a_row_per_pair_model_and_the_single_source_model():
    table = loso.table_rows(_record())
    assert len(table) == 2 + len(loso.VARIANTS) * len(loso.SOURCES)
    assert table[0]["held out"] == "B" and table[1]["held out"] == "LGG" and table[2]["trained on"] == "B + LGG"
    assert "outside ROC AUC" not in table[2]  # not scored yet: no outside column is made up


def test_default_entry_before_and_after_the_rule_ran():
    record = _record()
    assert loso.default_model_entry(record)["name"] == "single-source"
    record.update(default_model="all-source", all_source={"validation": {"brain-tumor": {"accuracy": 0.985}}},
                  all_source_compared={"picked_worst_held_out_auc": 0.7, "single_source_worst_unseen_auc": 0.55})
    entry = loso.default_model_entry(record)
    assert entry["name"] == "all-source" and entry["rule"] == loso.DEFAULT_RULE and "0.7000" in entry["reason"]
