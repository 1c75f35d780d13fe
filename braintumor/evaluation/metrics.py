"""Binary classification metrics with their uncertainty, and the operating threshold.

Positive class = tumour (label 1). Every function takes true labels and the predicted
tumour probability, so models of any kind (CNN, forest, majority) are scored alike.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
from scipy.stats import DegenerateDataWarning, binomtest, bootstrap, rankdata
from sklearn.metrics import average_precision_score, brier_score_loss, confusion_matrix, roc_auc_score

from .. import config
from ..decisions import decision


#: The shipped model's threshold rule (`choose_threshold`): validation sensitivity at least
#: `min_sensitivity`, threshold no higher than `ceiling`. model.ipynb and the
#: cross-validation both use these defaults, so they stay in step.
MIN_SENSITIVITY = decision("threshold").parameters["min_sensitivity"]  # braintumor/decisions.toml
THRESHOLD_CEILING = decision("threshold").parameters["ceiling"]
THRESHOLD_RULE = decision("threshold").rule


def confusion(y_true, y_pred) -> dict[str, int]:
    """Counts of true/false negatives and positives (label 1 = tumour); all 0 for no scans."""
    y_true = np.asarray(y_true).astype(int)
    y_pred = np.asarray(y_pred).astype(int)
    if y_true.size == 0:  # scikit-learn refuses empty input; an empty table is well defined
        return {"tn": 0, "fp": 0, "fn": 0, "tp": 0}
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


#: The figures a cross-validation summarises over its folds.
SUMMARY_METRICS = ("accuracy", "sensitivity", "specificity", "roc_auc")


def fold_mean_std(folds: list[dict], names=SUMMARY_METRICS) -> dict:
    """Per metric, the mean and sample standard deviation over the folds (std NaN for one fold)."""
    return {
        name: {"mean": float(np.mean([f[name] for f in folds])),
               "std": float(np.std([f[name] for f in folds], ddof=1)) if len(folds) > 1 else float("nan")}
        for name in names
    }


def _ratio(numerator: int, denominator: int) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def wilson_interval(successes: int, total: int, confidence_level: float = 0.95) -> list[float]:
    """Wilson score interval [low, high] for a proportion (SciPy's); sensible at 0% and 100%.

    [nan, nan] when there is nothing to count (total 0).
    """
    if total == 0:
        return [float("nan"), float("nan")]
    interval = binomtest(int(successes), int(total)).proportion_ci(
        confidence_level=confidence_level, method="wilson"
    )
    return [max(0.0, float(interval.low)), min(1.0, float(interval.high))]


def _auc_statistic(y_true: np.ndarray, probability: np.ndarray, axis: int = -1) -> np.ndarray:
    """ROC AUC along `axis` (Mann-Whitney: P(tumour scores above a healthy scan), ties half),
    for `scipy.stats.bootstrap`: every slice along `axis` is one resample, so thousands of
    resamples are scored in one call. NaN for a slice that holds one class only."""
    y_true = np.moveaxis(np.asarray(y_true), axis, -1).astype(bool)
    probability = np.moveaxis(np.asarray(probability, dtype=float), axis, -1)
    ranks = rankdata(probability, axis=-1)  # ties get their mean rank
    positives = y_true.sum(axis=-1)
    negatives = y_true.shape[-1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * y_true).sum(axis=-1) - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, np.nan)


class OneClassResampleWarning(RuntimeWarning):
    """Some bootstrap resamples held one class only; the ROC AUC interval left them out."""


def bootstrap_auc_interval(y_true, probability, n_boot: int = 2000, seed: int = config.SEED) -> list[float]:
    """95% BCa bootstrap interval [low, high] of ROC AUC (`scipy.stats.bootstrap`).

    Scans are resampled with replacement, each label with its probability (`paired=True`),
    `n_boot` times from `numpy.random.default_rng(seed)`: the very resamples the earlier
    hand-written percentile bootstrap drew. The interval is BCa (bias-corrected and
    accelerated): near AUC 1 the bootstrap distribution is skewed and sits above the estimate,
    which BCa corrects and a percentile interval does not.

    Cases a plain BCa interval does not cover, each decided here:

    * Data of one class (or fewer than two scans): no ROC AUC, so [nan, nan], without a
      warning, as `binary_metrics` gives a NaN `roc_auc` there.
    * A resample that holds one class has no ROC AUC (a class of k scans is missing from a
      resample with probability about exp(-k), so this happens only with a handful of one
      class). Such resamples are left out and the BCa interval is computed by scipy from the
      others (`bootstrap_result`): a bootstrap conditional on both classes being drawn, as
      the data themselves hold both. This is never silent: a `OneClassResampleWarning` says
      how many of the `n_boot` resamples were left out. The jackknife behind BCa's
      acceleration uses the whole data, as usual.
    * Every resample gives the same AUC (a classifier that separates the classes perfectly,
      AUC 1.0): BCa's acceleration is 0/0 (scipy warns of a degenerate distribution), but the
      bootstrap distribution is that one value, so the interval is [AUC, AUC], as the
      percentile interval would be.
    * Any other NaN from BCa (e.g. a class of one scan: the jackknife without it has no AUC)
      comes back as [nan, nan] with scipy's `DegenerateDataWarning`.
    """
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    if len(y_true) < 2 or not 0 < y_true.sum() < len(y_true):
        return [float("nan"), float("nan")]
    options = dict(statistic=_auc_statistic, paired=True, vectorized=True, confidence_level=0.95,
                   batch=n_boot)  # every resample drawn in one call, as before; the jackknife in batches
    with warnings.catch_warnings():  # this call only draws; its interval, NaN with one-class resamples, is unused
        warnings.simplefilter("ignore", DegenerateDataWarning)
        drawn = bootstrap((y_true, probability), n_resamples=n_boot, method="percentile",
                          rng=np.random.default_rng(seed), **options).bootstrap_distribution
    defined = drawn[np.isfinite(drawn)]
    if len(defined) < len(drawn):
        warnings.warn(f"{len(drawn) - len(defined)} of {n_boot} bootstrap resamples of {len(y_true)} scans "
                      f"({int(y_true.sum())} tumours) held one class only and have no ROC AUC; the ROC AUC "
                      f"interval is computed from the other {len(defined)}", OneClassResampleWarning, stacklevel=2)
    if len(defined) == 0:
        return [float("nan"), float("nan")]
    if np.all(defined == defined[0]):
        return [float(defined[0]), float(defined[0])]
    # BCa of the resamples drawn above: no new draws (n_resamples=0), only the jackknife
    interval = bootstrap((y_true, probability), n_resamples=0, method="BCa",
                         bootstrap_result=SimpleNamespace(bootstrap_distribution=defined), **options)
    low, high = interval.confidence_interval
    return [float(low), float(high)]


def binary_metrics(y_true, probability, threshold: float = 0.5, with_ci: bool = True) -> dict:
    """Accuracy, sensitivity, specificity, precision, F1, ROC AUC, Brier and confusion.

    A scan is called tumour when its tumour probability is >= `threshold`. With `with_ci`,
    `ci95` holds Wilson intervals for the proportions and a BCa bootstrap interval for AUC
    (`bootstrap_auc_interval`).
    """
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    if y_true.shape != probability.shape:
        raise ValueError(f"labels {y_true.shape} and probabilities {probability.shape} differ in shape")
    y_pred = (probability >= threshold).astype(int)
    counts = confusion(y_true, y_pred)
    tn, fp, fn, tp = counts["tn"], counts["fp"], counts["fn"], counts["tp"]
    precision = _ratio(tp, tp + fp)
    sensitivity = _ratio(tp, tp + fn)
    both_classes = 0 < y_true.sum() < len(y_true)
    result = {
        "n": int(len(y_true)),
        "accuracy": _ratio(tp + tn, len(y_true)),
        "sensitivity": sensitivity,
        "specificity": _ratio(tn, tn + fp),
        "precision": precision,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "roc_auc": float(roc_auc_score(y_true, probability)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y_true, probability)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(y_true, probability, labels=[0, 1])),
        "threshold": float(threshold),
        "confusion": counts,
        "missed_tumours": fn,
    }
    if with_ci:
        result["ci95"] = {
            "accuracy": wilson_interval(tp + tn, len(y_true)),
            "sensitivity": wilson_interval(tp, tp + fn),
            "specificity": wilson_interval(tn, tn + fp),
            "roc_auc": bootstrap_auc_interval(y_true, probability),
        }
    return result


def choose_threshold(y_val, probability_val, min_sensitivity: float = MIN_SENSITIVITY,
                     ceiling: float = THRESHOLD_CEILING) -> float:
    """Operating threshold for high sensitivity, chosen on validation data only.

    Among thresholds no higher than `ceiling` whose validation sensitivity is at least
    `min_sensitivity`, the one with the best validation accuracy (ties: the highest). A
    pure sensitivity target (the highest threshold reaching it) can buy the last percent
    of sensitivity with many false alarms; weighing accuracy too avoids that, and the cap
    keeps a scan whose tumour probability is the majority from being called healthy.
    """
    y_val = np.asarray(y_val).astype(int)
    probability_val = np.asarray(probability_val, dtype=float)
    if not (y_val == 1).any():
        raise ValueError("validation data hold no tumour scan; cannot set a sensitivity threshold")
    candidates = np.unique(np.append(probability_val[probability_val <= ceiling], ceiling))
    tumour = np.sort(probability_val[y_val == 1])
    healthy = np.sort(probability_val[y_val == 0])
    # scans called tumour: probability >= threshold
    true_positives = len(tumour) - np.searchsorted(tumour, candidates, side="left")
    true_negatives = np.searchsorted(healthy, candidates, side="left")
    sensitivity = true_positives / len(tumour)
    accuracy = (true_positives + true_negatives) / len(y_val)
    eligible = sensitivity >= min_sensitivity - 1e-12
    if not eligible.any():  # even the lowest candidate misses too many: take the lowest
        return float(candidates[0])
    best = np.flatnonzero(eligible & (accuracy == accuracy[eligible].max()))[-1]
    return float(candidates[best])


#: The threshold rule of models trained on several sources (`choose_pooled_threshold`): a
#: threshold chosen on one source's validation rows (A's) gave 54% sensitivity on scans from
#: elsewhere, so it is chosen on every training source's validation rows, each source weighing
#: the same.
POOLED_THRESHOLD_RULE = decision("pooled_threshold").rule
POOLED_THRESHOLD_RANGE = tuple(decision("pooled_threshold").parameters["range"])


def choose_pooled_threshold(y_val, probability_val, source_val) -> float:
    """`POOLED_THRESHOLD_RULE`: the threshold with the highest mean, over the sources in
    `source_val`, of each source's balanced accuracy (mean of sensitivity and specificity)
    on its validation rows, among candidates within `POOLED_THRESHOLD_RANGE` (the rows'
    probabilities and the range's ends); ties go to the candidate nearest 0.5.

    Balanced accuracy per source, so that neither the larger source nor the larger class
    sets the operating point for the other.
    """
    y_val = np.asarray(y_val).astype(int)
    probability_val = np.asarray(probability_val, dtype=float)
    source_val = np.asarray(source_val)
    low, high = POOLED_THRESHOLD_RANGE
    inside = probability_val[(probability_val >= low) & (probability_val <= high)]
    candidates = np.unique(np.concatenate([inside, [low, high]]))
    score = np.zeros(len(candidates))
    sources = np.unique(source_val)
    for source in sources:
        in_source = source_val == source
        tumour = np.sort(probability_val[in_source & (y_val == 1)])
        healthy = np.sort(probability_val[in_source & (y_val == 0)])
        if len(tumour) == 0 or len(healthy) == 0:
            raise ValueError(f"source {source!r} has validation rows of one class only; cannot weigh both classes")
        sensitivity = (len(tumour) - np.searchsorted(tumour, candidates, side="left")) / len(tumour)
        specificity = np.searchsorted(healthy, candidates, side="left") / len(healthy)
        score += (sensitivity + specificity) / 2
    score /= len(sources)
    best = np.flatnonzero(np.isclose(score, score.max(), rtol=0, atol=1e-12))
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def reliability_bins(y_true, probability, n_bins: int = 10, min_count: int | None = None) -> dict[str, list]:
    """Mean predicted tumour probability vs observed tumour rate in equal-width bins.

    With `min_count`, neighbouring bins are merged, left to right, until each holds at least
    that many scans (a last short run joins the bin before it), so that no point rests on one
    or two scans; the edges then mark the merged bins. A confident model keeps nearly every scan
    in the two end bins, and merging keeps those apart while the sparse middle becomes one bin.
    """
    y_true = np.asarray(y_true).astype(int)
    probability = np.asarray(probability, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    if min_count:
        edges = _merged_edges(edges, np.histogram(probability, bins=edges)[0], min_count)
    n_bins = len(edges) - 1
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, n_bins - 1)
    mean_predicted, observed, counts = [], [], []
    for b in range(n_bins):
        members = which == b
        counts.append(int(members.sum()))
        mean_predicted.append(float(probability[members].mean()) if members.any() else float("nan"))
        observed.append(float(y_true[members].mean()) if members.any() else float("nan"))
    return {"edges": edges.tolist(), "mean_predicted": mean_predicted, "observed": observed, "count": counts}


def _merged_edges(edges: np.ndarray, counts: np.ndarray, min_count: int) -> np.ndarray:
    """`edges` with interior edges dropped so that every bin holds at least `min_count` of `counts`."""
    kept, running = [edges[0]], 0
    for right, count in zip(edges[1:], counts):
        running += count
        if running >= min_count:
            kept.append(right)
            running = 0
    if kept[-1] != edges[-1]:  # a short run at the top joins the bin before it
        if len(kept) > 1:
            kept[-1] = edges[-1]
        else:
            kept.append(edges[-1])
    return np.asarray(kept)
