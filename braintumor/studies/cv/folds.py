"""One fold of the cross-validation: the CNN's ways of scoring a scan and the image-feature
forest, each trained on the fold's training part and scored on the part it holds out.

The CNN's early stopping and threshold use an inner validation slice of the training part,
as model.ipynb uses the validation rows, so the held-out part plays the test rows' role."""

from __future__ import annotations

import time

import numpy as np

from ... import config
from ...data.features import forest_probability, train_forest
from ...data.splits import grouped_stratified_split
from ...evaluation.metrics import binary_metrics, choose_threshold
from ...evaluation.shortcut import head_area_training_weights, head_size_matched_pairs, matched_metrics
from ...models.recipes import CV_VARIANT_KEYS

#: The figures of the held-out part's head-size-matched pairs a fold keeps.
MATCHED_KEPT = ("n_pairs", "accuracy", "sensitivity", "specificity", "roc_auc")


def inner_split(labels, groups, train_part, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, early-stopping rows) of the training part: a grouped, stratified 80/20 split."""
    inner = grouped_stratified_split(labels[train_part], groups[train_part], test_fraction=0.0,
                                     val_fraction=0.2, seed=config.SEED + fold)
    return train_part[inner == "train"], train_part[inner == "val"]


def cnn_scores(x, y, head_area, fit_index, stop_index, held_out, architecture, recipe, weighting, members,
               model: str = "single-source"):
    """Train `members` networks of configuration `model` (seeds: its own, then + 1, ...) on the fit
    rows through `models.training.fit_networks`, the one place a network is fitted, with
    `architecture`, `recipe`, `weighting` and `members` as overrides of that configuration, and
    return ({variant: (early-stopping rows' probability, held-out probability)}, the fits).
    Variants: "plain" (the first network alone: exactly the single-network recipe),
    "flip_average" (it, averaged with the mirror image) and, with members > 1, "seed_ensemble"
    (their mean)."""
    from ...models.networks import ensemble_members, flip_averaged_probability, predict_tumour_probability
    from ...models.training import fit_networks

    weights = {}
    if weighting == "head_area":
        weights = head_area_training_weights(head_area[fit_index], y[fit_index], head_area[stop_index], y[stop_index])
    overrides = {"architecture": dict(architecture), "recipe": dict(recipe), "training": {"members": members}}
    ensemble, fits = fit_networks(model, "full", x[fit_index], y[fit_index], x[stop_index], y[stop_index],
                                  overrides, weights)
    networks = ensemble_members(ensemble)
    stop_each = [predict_tumour_probability(network, x[stop_index]) for network in networks]
    held_each = [predict_tumour_probability(network, x[held_out]) for network in networks]
    scores = {"plain": (stop_each[0], held_each[0]),
              "flip_average": (flip_averaged_probability(networks[0], x[stop_index], stop_each[0]),
                               flip_averaged_probability(networks[0], x[held_out], held_each[0]))}
    if members > 1:
        scores["seed_ensemble"] = (np.mean(stop_each, axis=0), np.mean(held_each, axis=0))
    return scores, fits


def cnn_entries(scores: dict, fits, y, head_area, stop_index, held_out, fold: int) -> dict:
    """Each variant's fold record ({CV_VARIANT_KEYS[variant]: figures}): the held-out part's
    figures at the threshold chosen on the early-stopping rows, its matched pairs, the epochs."""
    pairs = head_size_matched_pairs(head_area[held_out], y[held_out])
    entries = {}
    for variant, (stop_probability, held_probability) in scores.items():
        threshold = choose_threshold(y[stop_index], stop_probability)
        entry = binary_metrics(y[held_out], held_probability, threshold, with_ci=False)
        matched = matched_metrics(y[held_out], held_probability, threshold, pairs)
        entry["matched"] = {name: matched[name] for name in MATCHED_KEPT}
        trained = fits if variant == "seed_ensemble" else fits[:1]
        entry.update(fold=fold + 1, epochs_run=fits[0].epochs_run, best_epoch=fits[0].best_epoch,
                     train_seconds=round(sum(run.seconds for run in trained), 1))
        if variant == "seed_ensemble":
            entry.update(member_epochs_run=[run.epochs_run for run in trained],
                         member_best_epochs=[run.best_epoch for run in trained])
        entries[CV_VARIANT_KEYS[variant]] = entry
    return entries


def forest_entry(features, y, train_part, held_out, fold: int) -> dict:
    """The image-feature forest's fold record, trained on the whole training part, threshold 0.5."""
    started = time.perf_counter()
    forest, _ = train_forest(features[train_part], y[train_part], seed=config.SEED)
    entry = binary_metrics(y[held_out], forest_probability(forest, features[held_out]), 0.5, with_ci=False)
    entry.update(fold=fold + 1, train_seconds=round(time.perf_counter() - started, 1))
    return entry
