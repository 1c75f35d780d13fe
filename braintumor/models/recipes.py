"""The training settings the notebook, the studies and the cross-validation scripts share, and the
rules fixed before the runs that apply them. How each shipped model is trained is its
configuration (`model/<name>/config.toml`, read by `models.configs`): `RECIPES` names two of them
for the studies, the reference CNN's and the single-source model's (the default a search candidate
starts from).
The rules' text and parameters are read from the decision registry (`braintumor/decisions.toml`);
the names below are kept for the code and tests that use them."""

from ..decisions import decision
from . import configs

RECIPES = {
    # The reference CNN's: the original notebook's recipe (Adam, early stopping on validation loss),
    # read from its folder (model/reference/config.toml).
    "reference": configs.training_recipe("reference"),
    # The default for improved-CNN candidates (python -m braintumor study search train, python -m braintumor study source;
    # a candidate may override any key): the single-source model's full recipe, read from its
    # configuration (model/single-source/config.toml). Batch norm makes validation loss
    # erratic until the cosine schedule has lowered the learning rate: watching from epoch 8, early
    # stopping still ended 2 of 5 cross-validation folds on a chance dip at epochs 13-14
    # (model/cv_f1_stop_from_8.json); from epoch 20 on it did not (model/cv_results.json).
    "improved": configs.training_recipe("single-source"),
}


#: What the shipped network must see. Healthy scans in this dataset are mostly small, bright
#: slices from the top or bottom of the brain, so the slice's size and brightness alone
#: predict the label (five such cues in a random forest: about 86% accuracy); a network fed
#: the whole picture can lean on them and fail on healthy mid-brain slices from elsewhere.
#: From the search row g1 on, a candidate must crop the head to a fixed extent and scale
#: its grey levels (`models.HeadCrop`) to be shipped: a requirement set before any of these
#: candidates was scored, then the best validation accuracy among them wins.
REQUIRED_PREPROCESS = decision("required_preprocess").parameters["preprocess"]

#: `make test` re-runs the notebooks as a regression check with the same code and recipes but
#: fewer epochs, so that it fits CI on the slower of the CPUs it may draw (training is about
#: 90% of a full run). Its figures are written to a scratch folder, marked "check" in
#: metrics.json, and never committed; the committed results come from the full schedule.
#: Each override is its model's configuration (`model/<name>/config.toml`, `[recipe.schedules.check]`).
CHECK_SCHEDULE = {
    "reference": configs.schedule_override("reference", "check"),
    "improved": configs.schedule_override("single-source", "check"),
}


def scheduled(recipe: dict, model: str, schedule: str = "full") -> dict:
    """`recipe` as the schedule trains it: unchanged for "full", shortened for "check".

    `model` is "reference", "improved" (the single-source model's override) or the name of a
    shipped model's configuration ("two-source", ...), whose override is read when called."""
    if schedule not in configs.SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: use 'full' or 'check'")
    if schedule == "full":
        return dict(recipe)
    return {**recipe, **configs.schedule_override("single-source" if model == "improved" else model, schedule)}


#: Whether the shipped network's probability is averaged over the scan and its left-right
#: mirror image. Brains are nearly symmetric and tumours lie on either side, so the mirror
#: image is another view of the same tissue; averaging two views usually ranks scans better
#: and costs one more forward pass. Written down before the cross-validation that decides it
#: ran (`python -m braintumor study cv run --out model/cv_matched_pairs.json`; its folds repeated
#: `model/cv_results.json`'s to the last digit on the same CPU, so it replaced that file);
#: neither the test rows nor the outside scans take part in the decision.
FLIP_AVERAGE_MIN_GAIN = decision("flip_average").parameters["min_gain"]
FLIP_AVERAGE_RULE = decision("flip_average").rule


def flip_average_wins(cv: dict) -> bool:
    """`FLIP_AVERAGE_RULE` applied to a cross-validation record with out-of-fold matched pairs
    (`python -m braintumor study cv run`): True when averaging over the mirror image should ship."""
    plain, flipped = (cv["matched_pairs"][key] for key in ("plain", "flip_average"))
    return bool(
        flipped["roc_auc"] >= plain["roc_auc"] + FLIP_AVERAGE_MIN_GAIN
        and flipped["fold_accuracy_mean"] >= plain["fold_accuracy_mean"]
        and flipped["fold_matched_accuracy_mean"] >= plain["fold_matched_accuracy_mean"]
    )


#: Whether the shipped recipe weighs its training scans so that head size does not predict
#: the label (`shortcut.head_area_balanced_weights`, in `HEAD_AREA_BINS` quantile bins of
#: the training scans' head area; early stopping's loss weighted alike). Written down before
#: the cross-validation that decides it (`python -m braintumor study cv run --weighting head_area`)
#: ran; neither the test rows nor the outside scans take part.
HEAD_AREA_WEIGHTING_MIN_GAIN = decision("head_area_weighting").parameters["min_gain"]
HEAD_AREA_WEIGHTING_MAX_ACCURACY_LOSS = decision("head_area_weighting").parameters["max_accuracy_loss"]
HEAD_AREA_WEIGHTING_RULE = decision("head_area_weighting").rule


def head_area_weighting_wins(unweighted_cv: dict, weighted_cv: dict) -> bool:
    """`HEAD_AREA_WEIGHTING_RULE` on two cross-validation records of the same recipe and folds."""
    plain, weighted = unweighted_cv["matched_pairs"]["plain"], weighted_cv["matched_pairs"]["plain"]
    return bool(
        weighted["roc_auc"] >= plain["roc_auc"] + HEAD_AREA_WEIGHTING_MIN_GAIN
        and weighted["fold_accuracy_mean"] >= plain["fold_accuracy_mean"] - HEAD_AREA_WEIGHTING_MAX_ACCURACY_LOSS
    )


#: What the shipped recipe does under `HEAD_AREA_WEIGHTING_RULE`: "head_area" (weights) or "none",
#: as the single-source model's configuration says (`[training] weighting`).
#: The rule read `model/cv_results.json` (weights) against `model/cv_g1_unweighted.json` (none;
#: same network, folds and seed) and shipped the weights; the figures it read are in
#: `metrics.json` under head_matching.cross_validation, and a unit test keeps this constant
#: in step with those files.
SHIPPED_WEIGHTING = configs.load_config("single-source")["training"]["weighting"]

#: How a cross-validation record (`setup["weighting"]`) names each weighting; "none" leaves the key out.
WEIGHTING_SETUP_NAMES = {"none": None, "head_area": "head_area_balanced"}


#: Whether the shipped network is the average of `SEED_ENSEMBLE_MEMBERS` networks trained
#: alike from different seeds (member m from seed config.SEED + m), saved as one model. The
#: members see the same scans and differ in initial weights, augmentation draws and batch
#: order; their mean ranks scans more steadily than any one of them, at that many times the
#: training and prediction cost, so it must earn its place on the head-size-matched pairs.
#: Written down before the cross-validation that decides it
#: (`python -m braintumor study cv run --members 2 --out model/cv_seed_ensemble.json`) ran; neither
#: the test rows nor the outside scans take part.
SEED_ENSEMBLE_MEMBERS = decision("seed_ensemble").parameters["members"]
SEED_ENSEMBLE_MIN_GAIN = decision("seed_ensemble").parameters["min_gain"]
SEED_ENSEMBLE_MAX_ACCURACY_LOSS = decision("seed_ensemble").parameters["max_accuracy_loss"]
SEED_ENSEMBLE_RULE = decision("seed_ensemble").rule


def seed_ensemble_wins(cv: dict) -> bool:
    """`SEED_ENSEMBLE_RULE` on a cross-validation record with a "seed_ensemble" variant
    (`python -m braintumor study cv run --members N`): True when the seed ensemble should ship."""
    single, ensemble = (cv["matched_pairs"][key] for key in ("plain", "seed_ensemble"))
    return bool(
        ensemble["roc_auc"] >= single["roc_auc"] + SEED_ENSEMBLE_MIN_GAIN
        and ensemble["fold_accuracy_mean"] >= single["fold_accuracy_mean"] - SEED_ENSEMBLE_MAX_ACCURACY_LOSS
    )


def member_seeds(members: int) -> list[int]:
    """The seeds of a seed ensemble's members: the first is the single network's own seed."""
    from ..config import TRAINING_SEED

    if members < 1:
        raise ValueError(f"a seed ensemble needs at least one member, not {members}")
    return [TRAINING_SEED + member for member in range(members)]


#: What the shipped model is under `SEED_ENSEMBLE_RULE`: the number of networks whose mean it
#: is (1: a single network), as the single-source model's configuration says (`[training] members`). The rule read `model/cv_seed_ensemble.json` (whose first network
#: repeats `model/cv_results.json` fold for fold) and kept one network; the figures it read are
#: in `metrics.json` under head_matching.cross_validation, and a unit test keeps this constant
#: in step with the committed cross-validations.
SHIPPED_MEMBERS = configs.load_config("single-source")["training"]["members"]

#: The ways a cross-validation record scores the CNN: its `matched_pairs` key -> its `models` key.
CV_VARIANT_KEYS = {"plain": "improved_cnn", "flip_average": "improved_cnn_flip_average",
                   "seed_ensemble": "improved_cnn_seed_ensemble"}


def shipped_cv_variant(cv: dict) -> str:
    """The way of scoring in a cross-validation record that is the shipped model: "seed_ensemble"
    when the shipped model averages seeds and the record scored that mean, else "plain"."""
    has_ensemble = CV_VARIANT_KEYS["seed_ensemble"] in cv.get("models", {})
    return "seed_ensemble" if SHIPPED_MEMBERS > 1 and has_ensemble else "plain"
