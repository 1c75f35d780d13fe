"""reports.views: the verdicts the documents word, decided in Python with named cut-offs."""

from braintumor.reports import views


def test_the_outside_verdict_follows_its_cut_offs():
    assert views.outside_verdict(None) == "not scored"
    assert views.outside_verdict({"specificity": views.MOST_HEALTHY_CALLED_TUMOUR - 0.01, "roc_auc": 0.9}) == "calls healthy tumour"
    assert views.outside_verdict({"specificity": 0.73, "roc_auc": views.CARRIES_MIN_ROC_AUC - 0.08}) == "poor"
    assert views.outside_verdict({"specificity": 0.9, "roc_auc": views.CARRIES_MIN_ROC_AUC}) == "lower"


def test_scores_on_reads_a_study_models_figures_or_none():
    metrics = {"two_source": {"scores": {"outside": {"roc_auc": 0.6}}}, "all_source": {}}
    assert views.scores_on(metrics, "two_source", "outside") == {"roc_auc": 0.6}
    assert views.scores_on(metrics, "all_source", "outside") is None
    assert views.scores_on(metrics, "a_lgg", "outside") is None


def _search_row(name, seconds=300.0, start=20, preprocess="head_crop", accuracy=0.95):
    return {"name": name, "architecture": {"resolution": 128, **({"preprocess": preprocess} if preprocess else {})},
            "recipe": {"start_from_epoch": start}, "parameters": 1000, "val_accuracy": accuracy, "val_loss": 0.1,
            "best_epoch": 10, "epochs_run": 12, "seconds": seconds}


def test_the_search_table_says_why_each_candidate_is_passed_over():
    from braintumor.models.selection import MAX_TRAINING_SECONDS

    rows = [_search_row("slow", seconds=MAX_TRAINING_SECONDS + 1, accuracy=0.99), _search_row("early", start=0, accuracy=0.99),
            _search_row("resize", preprocess=None, accuracy=0.99), _search_row("ok")]
    table = views.search_table({"rows": rows})
    assert [(r["name"], r["excluded"], r["chosen"]) for r in table["rows"]] == [
        ("slow", ["slow"], False), ("early", ["stops early"], False), ("resize", ["preprocess"], False), ("ok", [], True)]
    assert table["chosen"] == "ok" and table["limits"]["minutes"] == MAX_TRAINING_SECONDS / 60


def test_the_resolution_table_marks_the_rules_pick():
    rows = [{"resolution": side, "model_megabytes": mb, "val_accuracy": acc}
            for side, mb, acc in ((96, 10.0, 0.95), (64, 5.0, 0.95), (128, 1000.0, 0.99))]
    table = views.resolution_table({"reference": {"rows": rows, "recipe": {}}})
    assert [r["resolution"] for r in table["rows"]] == [64, 96, 128]  # by side
    assert [r["chosen"] for r in table["rows"]] == [True, False, False]  # ties to the smaller; the big one is too big
    assert abs(table["spread"] - 0.04) < 1e-9


def test_a_cross_validation_is_rerun_by_the_command_its_setup_needs():
    from braintumor.models import configs

    shipped = configs.load_config("single-source")["candidate"]
    weights = {"weighting": "head_area_balanced"}
    assert views.cv_rerun_command({"file": "model/cv_results.json", "setup": {"candidate": shipped, **weights}}) == "make cv"
    assert views.cv_rerun_command({"file": "model/cv_all_scans.json", "setup": {"candidate": shipped, "pool": "all", **weights}}) == "make cv-all"
    assert views.cv_rerun_command({"file": "model/cv_x.json", "setup": {"candidate": "f1"}}) == \
        "python -m braintumor study cv run --candidate f1 --weighting none --out model/cv_x.json"
    assert views.cv_rerun_command({"file": "model/cv_y.json", "setup": {"candidate": shipped, "members": 2, **weights}}) == \
        "python -m braintumor study cv run --members 2 --out model/cv_y.json"
