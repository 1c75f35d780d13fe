"""The brain-extraction study (braintumor/studies/extraction/, decision `brain_extraction_default`):
which rows run, what each variant trains and scores, and the rule as written, fallback included.
No real data needed: the training and the scoring are replaced where a row would run them."""

import json
from types import SimpleNamespace

import pytest

from braintumor import config
from braintumor.studies import extraction
from braintumor.studies.extraction import rows as study
from braintumor.studies.extraction import rule
from braintumor.studies.site import HELD_OUT_SITES


def _rows(variant, held_out, main_auc=0.99, matched=0.97, seeds=(42,), without=None):
    """Rows of `variant`, one per seed and held-out site; `without`: the same networks' figures
    without the extraction (an inference_only row's current-default figure)."""
    rows = []
    for seed in seeds:
        for site, auc in zip(HELD_OUT_SITES, held_out):
            row = {"variant": variant, "seed": seed, "held_out_site": site, "held_out_figures": {"roc_auc": auc},
                   "validation": {"brain-tumor": {"roc_auc": main_auc, "matched": {"roc_auc": matched}}}}
            if without is not None:
                row["held_out_figures_without_extraction"] = {"roc_auc": without[HELD_OUT_SITES.index(site)]}
            rows.append(row)
    return rows


CURRENT = (0.90, 0.88, 0.93)  # the current default's held-out-site ROC AUCs in these rows: worst 0.88


def _study(inference, extracted, single, **kwargs):
    return (_rows("inference_only", inference, without=CURRENT, **kwargs.get("inference_only", {}))
            + _rows("extracted_training", extracted, **kwargs.get("extracted_training", {}))
            + _rows("single_source_extracted", single, **kwargs.get("single_source_extracted", {})))


def test_the_rule_is_written_with_absolute_floors_and_at_most_three_variants():
    assert rule.VARIANTS == ("inference_only", "extracted_training", "single_source_extracted")
    assert set(rule.TRAINED) < set(rule.VARIANTS) and rule.SEEDS
    assert rule.MIN_MAIN_ROC_AUC >= 0.98 and rule.MIN_MAIN_MATCHED_ROC_AUC >= 0.96 and rule.MARGIN > rule.TIE > 0
    assert rule.METHOD in __import__("braintumor.data.brain_extraction", fromlist=["METHODS"]).METHODS
    assert "{" not in rule.RULE  # every parameter written into the rule's text


def test_rows_score_the_single_source_model_first_then_train_seed_by_seed():
    names = [name for name, _ in study.rows_to_run()]
    specs = [spec for _, spec in study.rows_to_run()]
    assert len(names) == len(set(names)) == len(HELD_OUT_SITES) * (1 + len(rule.TRAINED) * len(rule.SEEDS))
    assert [spec["variant"] for spec in specs[:len(HELD_OUT_SITES)]] == ["single_source_extracted"] * len(HELD_OUT_SITES)
    first_seed = specs[len(HELD_OUT_SITES):len(HELD_OUT_SITES) * (1 + len(rule.TRAINED))]
    assert {spec["seed"] for spec in first_seed} == {rule.SEEDS[0]}
    assert {(spec["variant"], spec["held_out_site"]) for spec in first_seed} == {
        (variant, site) for variant in rule.TRAINED for site in HELD_OUT_SITES}


def test_the_best_worst_site_among_qualifying_variants_wins_by_the_margin():
    rows = _study((0.95, 0.91, 0.96), (0.97, 0.93, 0.97), (0.99, 0.99, 0.99),
                  single_source_extracted={"main_auc": 0.97})  # best held out, but below A's floor
    pick = rule.extraction_pick(rows)
    assert pick["outcome"] == "extracted_training" and pick["worst_held_out_auc"] == pytest.approx(0.93)
    assert pick["current_worst_held_out_auc"] == pytest.approx(0.88)
    assert not pick["summaries"]["single_source_extracted"]["qualifies"]
    assert pick["summaries"][rule.CURRENT]["held_out_auc"] == dict(zip(HELD_OUT_SITES, CURRENT))


def test_a_best_variant_short_of_the_margin_keeps_the_current_default():
    rows = _study((0.89, 0.885, 0.90), (0.90, 0.889, 0.90), (0.5, 0.5, 0.5))  # 0.889 < 0.88 + margin
    pick = rule.extraction_pick(rows)
    assert pick["best_variant"] == "extracted_training" and pick["outcome"] == rule.CURRENT
    assert "not met" in pick["reason"]


def test_ties_within_the_tie_go_to_the_higher_mean_then_the_earlier_variant():
    tied = rule.TIE / 2
    rows = _study((0.95, 0.95, 0.95), (0.99, 0.95 + tied, 0.99), (0.5, 0.5, 0.5))
    assert rule.extraction_pick(rows)["outcome"] == "extracted_training"  # tie on the worst, higher mean
    rows = _study((0.95, 0.95, 0.95), (0.95, 0.95, 0.95), (0.5, 0.5, 0.5))
    assert rule.extraction_pick(rows)["outcome"] == "inference_only"  # a full tie: the earlier variant


def test_a_matched_pair_figure_below_its_floor_on_one_row_disqualifies():
    rows = _study((0.95, 0.95, 0.95), (0.99, 0.99, 0.99), (0.5, 0.5, 0.5))
    rows[len(HELD_OUT_SITES)]["validation"]["brain-tumor"]["matched"]["roc_auc"] = rule.MIN_MAIN_MATCHED_ROC_AUC - 0.001
    pick = rule.extraction_pick(rows)
    assert pick["outcome"] == "inference_only" and not pick["summaries"]["extracted_training"]["qualifies"]


def test_no_qualifying_variant_and_missing_rows_fall_back_to_the_current_default():
    rows = _study((0.99, 0.99, 0.99), (0.99, 0.99, 0.99), (0.99, 0.99, 0.99), inference_only={"main_auc": 0.9},
                  extracted_training={"matched": 0.9}, single_source_extracted={"main_auc": 0.9})
    assert rule.extraction_pick(rows)["outcome"] == rule.CURRENT
    partial = [row for row in _study((0.99,) * 3, (0.99,) * 3, (0.5,) * 3) if row["held_out_site"] != HELD_OUT_SITES[-1]]
    pick = rule.extraction_pick(partial)
    assert pick["outcome"] == rule.CURRENT and pick["current_worst_held_out_auc"] is None
    assert not any(summary["complete"] for summary in pick["summaries"].values())


def test_seeds_are_averaged_per_site_before_the_worst_site_is_taken():
    rows = (_rows("inference_only", (0.90, 0.90, 0.90), seeds=(42,), without=CURRENT)
            + _rows("inference_only", (0.96, 0.96, 0.96), seeds=(43,), without=CURRENT))
    summary = rule.variant_summary(rows, "inference_only")
    assert summary["worst_held_out_auc"] == pytest.approx(0.93) and summary["seeds"] == [42, 43]


class _Fit(SimpleNamespace):
    best_epoch, epochs_run, seconds = 2, 3, 12.0


def _wired(monkeypatch):
    """A row's training and scoring replaced by recorders: what `train_row` asks of them."""
    calls = {"train": [], "scored": [], "held_out_raw": 0}
    monkeypatch.setattr(study.site_study, "held_out_rows", lambda lgg, site: {"site": site})
    monkeypatch.setattr(study.site_study, "without_site", lambda lgg, site: f"lgg without {site}")

    def train(name, schedule, overrides, sources, seed):
        calls["train"].append({"name": name, "schedule": schedule, "overrides": overrides, "sources": sources, "seed": seed})
        return "network", _Fit(), {"brain-tumor": 10, "lgg": 20}

    monkeypatch.setattr("braintumor.models.training.train", train)
    monkeypatch.setattr("braintumor.models.networks.load_model", lambda path: f"loaded {path.parent.name}")
    monkeypatch.setattr(study, "_scored", lambda model, sources, left_out: calls["scored"].append((model, sources)) or {
        "held_out_figures": {"roc_auc": 0.9}})
    monkeypatch.setattr(study.base, "pooled_threshold", lambda model, sources: (0.5, 0.9))
    monkeypatch.setattr(study.base, "held_out_figures", lambda model, rows, threshold: {"roc_auc": 0.8, "rows": rows})
    monkeypatch.setattr(study.base, "validation_figures", lambda model, sources, threshold: {"brain-tumor": {}})
    monkeypatch.setattr(study.base, "weights_digest", lambda model: "digest")
    return calls


def test_extracted_training_trains_the_new_scans_folder_with_the_extraction_and_nothing_else(monkeypatch):
    calls = _wired(monkeypatch)
    row = study.train_row({"variant": "extracted_training", "seed": 42, "held_out_site": "DU"}, "A", "LGG", "check")
    assert calls["train"] == [{"name": "new-scans", "schedule": "check", "seed": 42, "sources": ["A", "lgg without DU"],
                               "overrides": {"preprocessing": {"brain_extraction": rule.METHOD}}}]
    assert row["rows_trained"] == 30 * 3 and row["trained_rows"] == {"brain-tumor": 10, "lgg": 20}
    assert "held_out_figures_without_extraction" not in row


def test_inference_only_trains_as_written_and_also_scores_the_scans_as_given(monkeypatch):
    calls = _wired(monkeypatch)
    row = study.train_row({"variant": "inference_only", "seed": 42, "held_out_site": "CS"}, "A", "LGG")
    assert calls["train"][0]["overrides"] == {} and calls["train"][0]["schedule"] == "full"
    assert row["held_out_figures_without_extraction"] == {"roc_auc": 0.8, "rows": {"site": "CS"}}  # no extraction applied


def test_the_single_source_row_scores_the_committed_model_and_trains_nothing(monkeypatch):
    calls = _wired(monkeypatch)
    row = study.train_row({"variant": "single_source_extracted", "seed": None, "held_out_site": "FG"}, "A", "LGG")
    assert calls["train"] == [] and calls["scored"] == [("loaded single-source", ["A"])]
    assert row["rows_trained"] == 0 and row["weights_sha256"] == "digest"


def test_the_extraction_reaches_the_left_out_rows_a_row_scores(monkeypatch):
    import numpy as np

    seen = []
    monkeypatch.setattr("braintumor.models.training.preprocessed", lambda sources, method: sources)
    monkeypatch.setattr(study.base, "pooled_threshold", lambda model, sources: (0.5, 0.9))
    monkeypatch.setattr(study.base, "validation_figures", lambda model, sources, threshold: {})
    monkeypatch.setattr(study.base, "held_out_figures", lambda model, rows, threshold: seen.append(rows["images"]) or {})
    monkeypatch.setattr("braintumor.data.brain_extraction.extract_brain", lambda images, method: images * 0 + 7)
    study._scored("network", [], {"images": np.ones((2, 4, 4, 1)), "labels": np.array([0, 1])})
    assert (seen[0] == 7).all()


def test_pick_refuses_until_every_row_has_run(tmp_path):
    path = tmp_path / "brain_extraction_study.json"
    with pytest.raises(SystemExit, match="cannot apply brain_extraction_default yet"):
        extraction.main(["pick", "--record", str(path)])
    assert not path.exists()  # nothing written by a refused pick


def test_the_committed_record_holds_the_rule_written_before_its_rows():
    record = json.loads((config.MODEL_DIR / "brain_extraction_study.json").read_text())
    assert record["rule"] == rule.RULE and record["variants"] == list(rule.VARIANTS)
    assert {row["name"] for row in record["rows"]} <= {name for name, _ in study.rows_to_run()}


@pytest.mark.parametrize(("outcome", "folder", "on_training_rows"), [
    ("extracted_training", "new-scans", True), ("inference_only", "new-scans", False),
    ("single_source_extracted", "single-source", False)])
def test_the_pick_writes_the_configuration_it_changes_and_nothing_else(tmp_path, outcome, folder, on_training_rows):
    import shutil

    from braintumor.models import configs

    for name in ("new-scans", "single-source"):
        shutil.copytree(config.MODEL_DIR / name, tmp_path / name, ignore=shutil.ignore_patterns("*.keras", "*.onnx"))
    shutil.copy(configs.folder() / "default_model.toml", tmp_path / "default_model.toml")
    for name in ("new-scans", "single-source"):  # the folders as they were before the pick
        configs.write_setting(name, "preprocessing", "brain_extraction", "none", "before", root=tmp_path)
        configs.write_setting(name, "preprocessing", "extract_training_rows", True, "before", root=tmp_path)
    written = study.apply_pick(outcome, root=tmp_path, registry=tmp_path)
    settings = configs.load_config(folder, root=tmp_path)["preprocessing"]
    assert settings == {"brain_extraction": rule.METHOD, "extract_training_rows": on_training_rows}
    other = "single-source" if folder == "new-scans" else "new-scans"
    assert configs.load_config(other, root=tmp_path)["preprocessing"]["brain_extraction"] == "none"
    default = (tmp_path / "default_model.toml").read_text()
    assert ('name = "single-source"' in default) == (outcome == "single_source_extracted") == (len(written) == 3)
    assert study.apply_pick(rule.CURRENT, root=tmp_path, registry=tmp_path) == []


def test_training_extracts_its_rows_only_where_the_configuration_says_so():
    from braintumor.models.training import preprocessing

    assert preprocessing("new-scans") == "none"  # inference_only, as picked: trained on the rows as given
    assert preprocessing("new-scans", {"preprocessing": {"extract_training_rows": True}}) == rule.METHOD
    assert preprocessing("new-scans", {"preprocessing": {"brain_extraction": "none",
                                                         "extract_training_rows": True}}) == "none"
