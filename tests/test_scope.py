"""The scope detector (data/scope.py), its rule (studies/scope/, decision `scope_check`) and the
warning `predict` gives with it. Synthetic heads only: no real data needed."""

import json

import numpy as np
import pytest
from PIL import Image

from braintumor.data import scope
from braintumor.studies.scope import rows as study
from braintumor.studies.scope import rule
from braintumor.studies.site import HELD_OUT_SITES


def _head(radius=90, grey=110, skull=False, seed=0, core=None):
    """A 240x240 axial-like slice: a textured disc of brain; with `skull`, a dark gap and a bright
    ring of scalp around it; `core`: a brighter centre (the white matter of a T1-like picture)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:240, :240]
    distance = np.hypot(rows - 120, cols - 120)
    picture = np.where(distance <= radius, grey + rng.integers(-10, 11, (240, 240)), 0)
    if core is not None:
        picture = np.where(distance <= radius / 2, core, picture)
    if skull:
        picture = np.where((distance > radius + 2) & (distance <= radius + 5), 25, picture)  # skull: dark, above the background
        picture = np.where((distance > radius + 5) & (distance <= radius + 10), 250, picture)  # scalp fat: bright
    return picture.astype(np.uint8)


def _detector(variant="intensity", threshold=0.5, coef=None, intercept=0.0):
    width = len(scope.FEATURE_SETS[variant])
    return {"variant": variant, "features": list(scope.FEATURE_SETS[variant]), "mean": [0.0] * width,
            "scale": [1.0] * width, "coef": list(coef if coef is not None else [0.0] * width), "intercept": intercept,
            "threshold": threshold, "inner_depth": scope.INNER_DEPTH, "thumbnail_side": scope.THUMBNAIL_SIDE}


# ---------------------------------------------------------------------------- features


@pytest.mark.parametrize("variant", list(scope.FEATURE_SETS))
def test_features_have_the_variants_width_and_are_finite(variant):
    features = scope.scope_features(np.stack([_head(), _head(skull=True), np.zeros((240, 240), np.uint8)]), variant)
    assert features.shape == (3, len(scope.FEATURE_SETS[variant])) and np.isfinite(features).all()
    assert not features[2].any()  # an empty picture describes as zeros, not an error


def test_skull_on_or_off_leaves_the_inner_tissue_features_alike():
    stripped, with_skull = scope.scope_features(np.stack([_head(skull=False), _head(skull=True)]), "intensity")
    quantiles = slice(0, 6)
    np.testing.assert_allclose(stripped[quantiles], with_skull[quantiles], atol=0.02)
    assert abs(stripped[9] - with_skull[9]) < 0.02  # core-to-edge ratio


def test_a_bright_core_moves_the_core_to_edge_ratio_and_the_quantiles():
    flat, cored = scope.scope_features(np.stack([_head(), _head(core=200)]), "intensity")
    names = list(scope.INTENSITY_FEATURES)
    assert cored[names.index("core_edge_ratio")] > 1.3 * flat[names.index("core_edge_ratio")]
    assert cored[names.index("q25")] < flat[names.index("q25")]  # the rest is darker beside the core


def test_an_unknown_variant_and_a_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="unknown detector variant"):
        scope.scope_features(np.stack([_head()]), "histogram")
    with pytest.raises(ValueError, match="expected scans"):
        scope.scope_features(np.zeros((240, 240), np.uint8), "intensity")


# ---------------------------------------------------------------------------- detector


def test_a_detector_scores_the_logistic_of_its_standardised_features():
    detector = _detector(coef=[1.0] + [0.0] * 11, intercept=-0.2)
    detector["mean"][0], detector["scale"][0] = 0.1, 0.5
    features = np.zeros((2, 12))
    features[:, 0] = [0.1, 0.6]
    np.testing.assert_allclose(scope.scores_of_features(features, detector), 1 / (1 + np.exp([0.2, -0.8])))


@pytest.mark.parametrize(("change", "message"), [
    ({"coef": [0.0] * 3}, "'coef' is not 12"),
    ({"threshold": 0.0}, "not in"),
    ({"threshold": True}, "not a number"),
    ({"scale": [0.0] * 12}, "not positive"),
    ({"inner_depth": 9}, "refit"),
    ({"features": ["q05"]}, "feature names"),
])
def test_an_unusable_detector_is_refused_with_the_reason(change, message):
    with pytest.raises(ValueError, match=message):
        scope.check_detector({**_detector(), **change})
    with pytest.raises(ValueError, match="missing threshold"):
        scope.check_detector({key: value for key, value in _detector().items() if key != "threshold"})
    assert scope.check_detector(_detector()) == _detector()


def test_the_fitted_pipeline_and_its_json_form_score_alike():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 12)) + np.repeat([[0.0], [1.5]], 100, axis=0)
    labels = np.repeat([0, 1], 100)
    model = study.fit(features, labels, 1.0)
    detector = scope.check_detector(json.loads(json.dumps(study.detector_of(model, "intensity", 0.7))))
    np.testing.assert_allclose(scope.scores_of_features(features, detector), model.predict_proba(features)[:, 1], atol=1e-9)


def test_warnings_name_the_score_and_the_threshold_only_at_or_above_it():
    words = scope.scope_warnings([0.2, 0.7, 0.93], 0.7)
    assert words[0] is None and "0.70" in words[1] and "out-of-scope score 0.93" in words[2] and "0.70" in words[2]


# ---------------------------------------------------------------------------- the rule


def _loso(variant, by_c):
    return [{"variant": variant, "c": c, "held_out_site": site, "balanced_accuracy": accuracy}
            for c, accuracies in by_c.items() for site, accuracy in zip(HELD_OUT_SITES, accuracies)]


def test_the_rule_is_written_with_at_most_three_variants_and_its_parameters():
    assert len(rule.VARIANTS) <= 3 and set(rule.VARIANTS) <= set(scope.FEATURE_SETS)
    assert rule.MAX_VAL_WARNED <= 0.05 and rule.B_UNWARNED_FLOOR <= 0.05 and "{" not in rule.RULE


def test_c_is_the_best_mean_over_the_sites_ties_to_the_smaller_and_a_weak_site_disqualifies():
    c1, c2, c3 = rule.C_GRID
    rows = _loso("intensity", {c1: (0.7, 0.7, 0.7), c2: (0.9, 0.9, 0.6), c3: (0.9, 0.9, 0.6)})
    chosen = rule.chosen_c(rows, "intensity")
    assert chosen["c"] == c2 and not chosen["qualifies"]  # c2 and c3 tie at the best mean: the smaller; 0.6 < floor
    rows = _loso("intensity", {c1: (0.8, 0.8, 0.8), c2: (0.7, 0.7, 0.7), c3: (0.7, 0.7, 0.7)})
    assert rule.chosen_c(rows, "intensity") == {"c": c1, "mean": pytest.approx(0.8),
                                                 "sites": dict(zip(HELD_OUT_SITES, (0.8, 0.8, 0.8))), "qualifies": True}
    with pytest.raises(ValueError, match="no row for site"):
        rule.chosen_c(rows[:-1], "intensity")


def test_the_threshold_is_the_lowest_that_keeps_every_validation_set_within_its_share():
    scores = np.linspace(0.0, 0.99, 100)
    no_cues = np.zeros(100, dtype=bool)
    threshold = rule.validation_threshold({"a": (scores, no_cues)}, max_share=0.04)
    assert (scores >= threshold).sum() == 4 and threshold <= 0.9501  # at 0.95 itself, five would be warned
    cued = no_cues.copy()
    cued[:2] = True  # two cue warnings use two of the four allowed
    assert ((scores >= rule.validation_threshold({"a": (scores, cued)}, 0.04)) | cued).mean() <= 0.04
    assert rule.validation_threshold({"a": (scores, no_cues), "b": (scores, np.arange(100) < 5)}, 0.04) is None


def _fitted(variant, share, auc, qualifies=True, n=1000):
    return {"variant": variant, "c": 0.1, "threshold": 0.5, "qualifies": qualifies,
            "b": {"unwarned_share": share, "unwarned": int(share * n), "roc_auc": auc}}


def test_the_pick_is_the_best_unwarned_roc_auc_on_b_and_a_nearly_silent_variant_ranks_first():
    first, second, third = rule.VARIANTS
    pick = rule.scope_pick([_fitted(first, 0.40, 0.60), _fitted(second, 0.30, 0.80), _fitted(third, 0.20, 0.95, False)])
    assert pick["outcome"] == second and pick["b_unwarned_roc_auc"] == 0.80
    pick = rule.scope_pick([_fitted(first, 0.40, 0.90), _fitted(second, 0.04, None), _fitted(third, 0.30, 0.95)])
    assert pick["outcome"] == second  # at most the floor unwarned: above every other
    pick = rule.scope_pick([_fitted(first, 0.40, 0.900), _fitted(second, 0.30, 0.903), _fitted(third, 0.35, 0.80)])
    assert pick["outcome"] == second  # a tie on ROC AUC: fewer B scans unwarned


def test_without_a_qualifying_variant_no_detector_ships():
    pick = rule.scope_pick([_fitted(variant, 0.1, 0.9, qualifies=False) for variant in rule.VARIANTS])
    assert pick["outcome"] == rule.NO_DETECTOR and pick["b_unwarned_roc_auc"] is None


def test_b_figures_have_no_roc_auc_for_one_class_left():
    figures = rule.b_figures([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], [False, True, True, False])
    assert figures == {"unwarned": 2, "unwarned_share": 0.5, "roc_auc": None}


def test_the_pick_refuses_until_every_row_has_run(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "load_data", lambda schedule="full": {})
    with pytest.raises(SystemExit, match="cannot apply scope_check yet"):
        study.main(["pick", "--record", str(tmp_path / "scope_study.json")])


def test_the_fallback_removes_a_detector_and_a_pick_writes_it_whole(tmp_path):
    path = study.write_detector(_detector(), tmp_path)
    assert scope.check_detector(json.loads(path.read_text()))["decision"] == "scope_check"
    study.write_detector(None, tmp_path)
    assert not path.exists()


# ---------------------------------------------------------------------------- predict


class _Scorer:
    def predict_on_batch(self, batch):
        return np.tile([0.3, 0.7], (len(batch), 1))


@pytest.fixture
def scope_model(tmp_path, monkeypatch):
    """A model folder (no weights: the scorer is patched) with a card and `scope.json`."""
    from braintumor.predict import scoring

    monkeypatch.setattr(scoring, "load_runtime", lambda path, runtime=None, gradcam=False: (_Scorer(), "onnx", []))
    path = tmp_path / "model" / "mine" / "model.keras"
    path.parent.mkdir(parents=True)
    (path.parent / "card.json").write_text(json.dumps({"threshold": 0.5}))
    names = list(scope.INTENSITY_FEATURES)
    coef = [0.0] * 12
    coef[names.index("core_edge_ratio")] = 40.0  # a bright core reads as another sequence
    (path.parent / "scope.json").write_text(json.dumps(_detector(coef=coef, intercept=-52.0, threshold=0.5)))
    return path


def test_predict_scores_every_scan_and_warns_on_the_ones_out_of_scope(tmp_path, scope_model, capsys):
    from braintumor.cli import main

    Image.fromarray(_head()).save(tmp_path / "flair-like.png")
    Image.fromarray(_head(core=220)).save(tmp_path / "bright core.png")
    status = main(["predict", str(tmp_path / "flair-like.png"), str(tmp_path / "bright core.png"),
                   "--model", str(scope_model), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0 and all(0.0 <= record["scope_score"] <= 1.0 for record in records)
    assert "warning" not in records[0] and records[0]["scope_score"] < 0.5
    assert records[1]["scope_score"] >= 0.5 and "out-of-scope score" in records[1]["warning"]


def test_an_unusable_scope_file_stops_the_run_naming_it(tmp_path, scope_model, capsys):
    from braintumor.cli import main

    (scope_model.parent / "scope.json").write_text('{"variant": "intensity"}')
    Image.fromarray(_head()).save(tmp_path / "scan.png")
    status = main(["predict", str(tmp_path / "scan.png"), "--model", str(scope_model)])
    err = capsys.readouterr().err
    assert status != 0 and "scope.json" in err and "missing" in err


# ---------------------------------------------------------------------------- risk and coverage


def test_risk_falls_as_the_scans_most_out_of_scope_are_left_unanswered():
    from braintumor.evaluation.analysis import warning_summary
    from braintumor.evaluation.coverage import risk_coverage

    labels = np.array([1, 0, 1, 0])
    probability = np.array([0.9, 0.1, 0.2, 0.8])  # the last two are wrong at 0.5
    coverage, risk = risk_coverage(labels, probability, 0.5, scope_score=[0.1, 0.2, 0.9, 0.8])
    np.testing.assert_allclose(coverage, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.0, 1 / 3, 0.5])
    summary = warning_summary(labels, probability, 0.5, warned=[False, False, True, True])
    assert summary["n"] == 4 and summary["warned_share"] == 0.5
    assert summary["unwarned_roc_auc"] == 1.0 and summary["by_warning"]["unwarned"]["accuracy"] == 1.0
    assert summary["warned_roc_auc"] == 0.0 and summary["by_warning"]["warned"]["accuracy"] == 0.0
    one_class = warning_summary(labels, probability, 0.5, warned=[True, False, True, True])  # unwarned: one healthy scan
    assert one_class["warned_roc_auc"] == 0.5 and one_class["unwarned_roc_auc"] is None


def test_the_risk_coverage_figure_is_titled_and_labelled():
    from braintumor.reports.plots import risk_coverage_curves

    figure = risk_coverage_curves({"B": (np.array([0.5, 1.0]), np.array([0.1, 0.3]))}, "New-scans model: risk and coverage",
                                  marks={"B": 0.5})
    ax = figure.axes[0]
    assert ax.get_title() == "New-scans model: risk and coverage" and "answered" in ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(ValueError, match="no risk-coverage curve"):
        risk_coverage_curves({}, "empty")


def test_the_card_describes_the_detector_its_folder_holds(tmp_path):
    from braintumor.reports import cards

    study.write_detector(_detector(threshold=0.62), tmp_path)
    records = {"scope_study.json": {"pick": {"outcome": "intensity", "b_unwarned_share": 0.2, "b_unwarned_roc_auc": 0.86},
                                    "fitted": [{"variant": "intensity", "validation_warned": {"brain-tumor": 0.03}}]}}
    section = cards._scope_check(cards._scope_file("reference", tmp_path), records)
    assert section["variant"] == "intensity" and section["threshold"] == 0.62 and section["rule"] == "scope_check"
    assert section["b_unwarned_roc_auc"] == 0.86 and section["validation_warned"] == {"brain-tumor": 0.03}
    assert len(section["sha256"]) == 64
    assert cards._scope_file("reference", tmp_path / "elsewhere") is None  # no scope.json: no section
    assert cards._scope_check(None, records) is None


def test_the_readme_says_what_the_detector_does_and_how_often_it_fired_from_the_record():
    from braintumor.reports.render import environment

    macro = environment().get_template("_models.md.j2").module.scope_paragraph
    record = {"variants": list(rule.VARIANTS), "b_cues_alone": {"unwarned_share": 0.39, "roc_auc": 0.46},
              "pick": {"outcome": rule.VARIANTS[0], "threshold": 0.613, "b_unwarned_share": 0.12, "b_unwarned_roc_auc": 0.871},
              "scores": {"outside": {"warned_share": 0.6, "unwarned_roc_auc": 0.9}, "lgg_test": {"warned_share": 0.03,
                                                                                             "unwarned_roc_auc": None}}}
    text = str(macro(record))
    assert "0.61 or more warns" in text and "rule `scope_check`" in text and "do not trust this score" in text
    assert "Warned, confirmed once: C 60.0%, LGG test 3.0%; B 88.0% (read for the pick)." in text and "C 0.900, B 0.871" in text
    second = str(macro({**record, "decision": "scope_sequence_cnn"}))
    assert "`scope.onnx`" in second and "rule `scope_sequence_cnn`" in second
    fallback = str(macro({**record, "pick": {"outcome": rule.NO_DETECTOR, "reason": "no variant qualified: fallback"}}))
    assert fallback.startswith("No scope detector ships") and "cheap cues alone" in fallback and "B 88.0%" not in fallback
