"""Classification metrics, their intervals, the operating threshold and calibration bins."""

import functools
import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import DegenerateDataWarning, bootstrap
from sklearn.metrics import roc_auc_score

from braintumor.evaluation import metrics


def test_confusion_counts_each_cell():
    y_true = [0, 0, 0, 1, 1, 1, 1]
    y_pred = [0, 1, 1, 0, 1, 1, 1]
    assert metrics.confusion(y_true, y_pred) == {"tn": 1, "fp": 2, "fn": 1, "tp": 3}


def test_confusion_of_no_scans_is_all_zero():
    assert metrics.confusion([], []) == {"tn": 0, "fp": 0, "fn": 0, "tp": 0}


def test_brier_of_one_class_is_the_mean_squared_error():
    result = metrics.binary_metrics([1, 1, 1], [0.9, 0.8, 0.2], with_ci=False)
    assert result["brier"] == pytest.approx((0.01 + 0.04 + 0.64) / 3)


def test_perfect_classifier(monkeypatch):
    # 100 bootstrap resamples show the same thing as 2000 here
    fast = functools.partial(metrics.bootstrap_auc_interval, n_boot=100)
    monkeypatch.setattr(metrics, "bootstrap_auc_interval", fast)
    y_true = np.array([0, 1] * 20)
    result = metrics.binary_metrics(y_true, y_true.astype(float))
    for name in ("accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "pr_auc"):
        assert result[name] == 1.0, name
    assert result["brier"] == 0.0
    assert result["missed_tumours"] == 0
    assert result["confusion"] == {"tn": 20, "fp": 0, "fn": 0, "tp": 20}
    assert result["ci95"]["accuracy"][0] < 1.0  # 40 scans do not prove 100%
    assert result["ci95"]["accuracy"][1] == pytest.approx(1.0)
    assert result["ci95"]["roc_auc"] == [1.0, 1.0]


def test_inverted_classifier():
    y_true = np.array([0, 1] * 20)
    result = metrics.binary_metrics(y_true, 1.0 - y_true, with_ci=False)
    assert result["accuracy"] == 0.0 and result["sensitivity"] == 0.0 and result["specificity"] == 0.0
    assert result["roc_auc"] == 0.0
    assert result["brier"] == 1.0
    assert result["missed_tumours"] == 20


def test_threshold_is_inclusive():
    result = metrics.binary_metrics([0, 1], [0.3, 0.3], threshold=0.3, with_ci=False)
    assert result["confusion"] == {"tn": 0, "fp": 1, "fn": 0, "tp": 1}
    assert "ci95" not in result


def test_known_mixed_case():
    y_true = [0, 0, 0, 0, 1, 1, 1, 1]
    probability = [0.1, 0.2, 0.6, 0.3, 0.9, 0.4, 0.8, 0.7]
    result = metrics.binary_metrics(y_true, probability, with_ci=False)
    assert result["confusion"] == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}
    assert result["accuracy"] == 0.75 and result["sensitivity"] == 0.75 and result["specificity"] == 0.75
    assert result["precision"] == 0.75 and result["f1"] == 0.75
    assert result["roc_auc"] == pytest.approx(15 / 16)  # 15 of 16 tumour/healthy pairs ranked right
    assert result["brier"] == pytest.approx(np.mean((np.array(probability) - y_true) ** 2))


def test_one_class_gives_nan_auc_not_an_error():
    result = metrics.binary_metrics([1, 1, 1], [0.9, 0.8, 0.2], with_ci=False)
    assert math.isnan(result["roc_auc"]) and math.isnan(result["specificity"])
    assert result["sensitivity"] == pytest.approx(2 / 3)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        metrics.binary_metrics([0, 1], [0.5])


@pytest.mark.parametrize(
    "successes, total, expected",
    [
        (0, 10, [0.0, 0.27753]),
        (10, 10, [0.72247, 1.0]),
        (50, 100, [0.40383, 0.59617]),
        (1, 3, [0.06149, 0.79234]),
        (1, 2, [0.09453, 0.90547]),
    ],
)
def test_wilson_interval_known_values(successes, total, expected):
    assert metrics.wilson_interval(successes, total) == pytest.approx(expected, abs=1e-5)


def test_wilson_interval_of_nothing_is_nan():
    assert all(math.isnan(v) for v in metrics.wilson_interval(0, 0))


def _scores(n: int, separation: float, seed: int = 0):
    """n scans, half of them tumours, scores normal with the tumours `separation` higher."""
    rng = np.random.default_rng(seed)
    y_true = np.array([0, 1] * (n // 2))
    return y_true, rng.normal(size=n) + separation * y_true


def test_bootstrap_auc_interval_brackets_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(0)
    y_true = np.array([0, 1] * 50)
    probability = np.clip(y_true * 0.3 + rng.random(100) * 0.7, 0, 1)
    low, high = metrics.bootstrap_auc_interval(y_true, probability, n_boot=300)
    estimate = metrics.binary_metrics(y_true, probability, with_ci=False)["roc_auc"]
    assert low < estimate < high
    assert [low, high] == metrics.bootstrap_auc_interval(y_true, probability, n_boot=300)
    assert [low, high] != metrics.bootstrap_auc_interval(y_true, probability, n_boot=300, seed=7)


def test_auc_statistic_matches_scikit_learn_per_resample_and_with_ties():
    y_true, probability = _scores(60, 1.0)
    probability = probability.round(1)  # ties, counted half
    rows = np.random.default_rng(3).integers(0, 60, size=(5, 60))
    expected = [roc_auc_score(y_true[row], probability[row]) for row in rows]
    assert metrics._auc_statistic(y_true[rows], probability[rows], axis=-1) == pytest.approx(expected, abs=1e-12)
    assert math.isnan(metrics._auc_statistic(np.ones(4), np.arange(4.0)))


def test_bootstrap_auc_interval_is_scipy_bca_on_the_resamples_drawn_before():
    # The hand-written bootstrap drew default_rng(seed).integers(0, n, (n_boot, n)); scipy's paired
    # bootstrap from the same generator draws the very same resamples, so its percentile interval
    # is the old one, and the new interval differs only by BCa.
    y_true, probability = _scores(120, 1.5)
    draws = np.random.default_rng(42).integers(0, 120, size=(500, 120))
    old = np.percentile([roc_auc_score(y_true[row], probability[row]) for row in draws], [2.5, 97.5])
    fit = functools.partial(bootstrap, (y_true, probability), metrics._auc_statistic, n_resamples=500,
                            paired=True, vectorized=True, batch=500)
    percentile = fit(method="percentile", rng=np.random.default_rng(42)).confidence_interval
    assert [percentile.low, percentile.high] == pytest.approx(old, abs=1e-12)
    bca = fit(method="BCa", rng=np.random.default_rng(42)).confidence_interval
    assert metrics.bootstrap_auc_interval(y_true, probability, n_boot=500, seed=42) == pytest.approx(
        [bca.low, bca.high], abs=1e-12)


def test_bootstrap_auc_interval_narrows_with_more_data():
    widths = []
    for n in (80, 320, 1280):
        low, high = metrics.bootstrap_auc_interval(*_scores(n, 1.0), n_boot=500)
        widths.append(high - low)
    assert widths[0] > 1.5 * widths[1] > 1.5 * 1.5 * widths[2]


def test_bca_moves_a_skewed_interval_near_auc_0_99_below_the_percentile_one():
    # Near AUC 1 the bootstrap distribution is skewed and sits above the estimate; BCa corrects
    # for that, the percentile interval does not.
    y_true, probability = _scores(400, 3.3)
    estimate = roc_auc_score(y_true, probability)
    assert 0.99 < estimate < 0.995
    low, high = metrics.bootstrap_auc_interval(y_true, probability)
    percentile = bootstrap((y_true, probability), metrics._auc_statistic, n_resamples=2000, paired=True,
                           vectorized=True, method="percentile", rng=np.random.default_rng(42)).confidence_interval
    assert low < estimate < high
    assert low < percentile.low - 0.003 and high < percentile.high - 0.0005


def test_bootstrap_auc_interval_leaves_out_one_class_resamples_and_says_so():
    # two tumours in ten scans: about a tenth of the resamples miss both and have no AUC
    y_true = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    probability = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.95, 0.8, 0.9])
    draws = np.random.default_rng(42).integers(0, 10, size=(400, 10))
    one_class = int(sum(y_true[row].min() == y_true[row].max() for row in draws))
    assert 10 < one_class < 100
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateDataWarning)  # only the warning below, nothing from scipy
        with pytest.warns(metrics.OneClassResampleWarning,
                          match=rf"^{one_class} of 400 bootstrap resamples .* from the other {400 - one_class}$"):
            interval = metrics.bootstrap_auc_interval(y_true, probability, n_boot=400)
    # BCa (scipy) of the resamples that hold both classes, with the whole data's jackknife
    defined = [roc_auc_score(y_true[row], probability[row]) for row in draws if y_true[row].min() != y_true[row].max()]
    expected = bootstrap((y_true, probability), metrics._auc_statistic, n_resamples=0, paired=True, vectorized=True,
                         method="BCa", bootstrap_result=SimpleNamespace(bootstrap_distribution=np.array(defined)))
    assert interval == pytest.approx(list(expected.confidence_interval), abs=1e-12)
    assert interval[0] < roc_auc_score(y_true, probability) < interval[1]


def test_bootstrap_auc_interval_with_a_class_of_one_scan_is_nan_and_says_so():
    # the jackknife without the one tumour has no AUC, so BCa has no acceleration
    y_true = np.array([0, 0, 0, 0, 0, 0, 0, 1])
    with pytest.warns(metrics.OneClassResampleWarning), pytest.warns(DegenerateDataWarning):
        interval = metrics.bootstrap_auc_interval(y_true, [0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.4], n_boot=200)
    assert all(math.isnan(bound) for bound in interval)


def test_bootstrap_auc_interval_of_one_class_data_is_nan_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(math.isnan(b) for b in metrics.bootstrap_auc_interval([1, 1, 1], [0.2, 0.5, 0.9]))
        assert all(math.isnan(b) for b in metrics.bootstrap_auc_interval([1], [0.2]))


def test_bootstrap_auc_interval_of_a_perfect_classifier_is_the_point_without_a_warning():
    y_true = np.array([0, 1] * 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's DegenerateDataWarning is handled, not passed on
        assert metrics.bootstrap_auc_interval(y_true, 0.2 + 0.5 * y_true, n_boot=200) == [1.0, 1.0]
        assert metrics.bootstrap_auc_interval(y_true, 0.7 - 0.5 * y_true, n_boot=200) == [0.0, 0.0]


def test_choose_threshold_keeps_the_sensitivity_target_and_maximises_accuracy():
    # 10 tumours, 10 healthy scans; healthy scores overlap the low tumour scores.
    y_val = np.r_[np.ones(10), np.zeros(10)]
    tumour = np.array([0.05, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95])
    healthy = np.array([0.01, 0.02, 0.03, 0.04, 0.1, 0.15, 0.25, 0.4, 0.45, 0.5])
    probability = np.r_[tumour, healthy]
    # sensitivity >= 0.9 allows one miss: thresholds in (0.05, 0.2]; 0.2 clears the most healthy scans
    assert metrics.choose_threshold(y_val, probability, min_sensitivity=0.9, ceiling=1.0) == 0.2
    # sensitivity >= 0.6: best accuracy at 0.6 (4 misses, no false alarm above 0.5)
    assert metrics.choose_threshold(y_val, probability, min_sensitivity=0.6, ceiling=1.0) == 0.6
    # the ceiling wins over accuracy
    assert metrics.choose_threshold(y_val, probability, min_sensitivity=0.6, ceiling=0.5) <= 0.5
    chosen = metrics.choose_threshold(y_val, probability, min_sensitivity=0.9, ceiling=1.0)
    assert np.mean(tumour >= chosen) >= 0.9


def test_choose_threshold_full_sensitivity_takes_the_lowest_tumour_score():
    assert metrics.choose_threshold([1, 1, 0], [0.3, 0.4, 0.1], min_sensitivity=1.0) == 0.3


def test_choose_threshold_never_exceeds_the_ceiling():
    y_val = [1, 1, 1, 0]
    assert metrics.choose_threshold(y_val, [0.9, 0.95, 0.99, 0.1]) == 0.5
    assert metrics.choose_threshold(y_val, [0.9, 0.95, 0.99, 0.1], ceiling=0.8) == 0.8


def test_choose_threshold_needs_a_tumour():
    with pytest.raises(ValueError, match="no tumour"):
        metrics.choose_threshold([0, 0], [0.1, 0.2])


def test_reliability_bins():
    y_true = [0, 0, 1, 1, 1]
    probability = [0.0, 0.05, 0.55, 0.95, 1.0]
    bins = metrics.reliability_bins(y_true, probability, n_bins=10)
    assert bins["edges"] == pytest.approx(np.linspace(0, 1, 11))
    assert bins["count"] == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]  # 1.0 falls in the last bin
    assert bins["mean_predicted"][0] == pytest.approx(0.025)
    assert bins["observed"][0] == 0.0 and bins["observed"][9] == 1.0
    assert math.isnan(bins["mean_predicted"][1]) and math.isnan(bins["observed"][1])
    assert bins["mean_predicted"][9] == pytest.approx(0.975)


def test_reliability_bin_edges_are_half_open():
    bins = metrics.reliability_bins([0, 1], [0.1, 0.2], n_bins=10)
    assert bins["count"][1] == 1 and bins["count"][2] == 1  # 0.1 in [0.1, 0.2), 0.2 in [0.2, 0.3)


def test_reliability_bins_merge_until_each_holds_min_count():
    probability = [0.01] * 30 + [0.15, 0.35, 0.55] + [0.99] * 30
    y_true = [0] * 30 + [1, 0, 1] + [1] * 30
    bins = metrics.reliability_bins(y_true, probability, n_bins=10, min_count=10)
    assert sum(bins["count"]) == len(probability) and min(bins["count"]) >= 10
    assert bins["edges"][0] == 0.0 and bins["edges"][-1] == 1.0 and len(bins["edges"]) == len(bins["count"]) + 1
    assert bins["count"][0] == 30  # the low end stays its own bin
    one = metrics.reliability_bins([0, 1], [0.1, 0.9], n_bins=10, min_count=10)
    assert one["count"] == [2] and one["edges"] == [0.0, 1.0]  # too few scans: one bin


def test_fold_mean_std_is_the_mean_and_sample_spread_over_folds():
    from braintumor.evaluation.metrics import fold_mean_std

    folds = [{"accuracy": 0.9, "sensitivity": 1.0, "specificity": 0.8, "roc_auc": 0.95},
             {"accuracy": 0.8, "sensitivity": 0.6, "specificity": 1.0, "roc_auc": 0.85}]
    summary = fold_mean_std(folds)
    assert summary["accuracy"]["mean"] == pytest.approx(0.85)
    assert summary["accuracy"]["std"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert set(summary) == {"accuracy", "sensitivity", "specificity", "roc_auc"}
    assert np.isnan(fold_mean_std(folds[:1])["roc_auc"]["std"])  # one fold has no spread
