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
