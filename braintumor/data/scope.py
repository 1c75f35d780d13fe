"""Is this scan a sequence the models read? A detector of scans outside their scope.

The models read FLAIR-like axial slices (A's and LGG's). A post-contrast T1 slice has a head,
a dark border and a skull like any other, so the five cheap cues of `input_check` let most of
them through, and the network scores them worse than a coin (issue 40). This module measures
what tells the sequences apart inside the head, where scalp and skull do not reach, and scores
a scan with a fitted logistic regression: the probability that it is *not* FLAIR-like.

* `inner_region`: the head's filled outline eroded by `INNER_DEPTH` pixels, so that the scalp
  and skull of a clinical scan fall away and a skull-stripped slice loses its outer cortex:
  both keep brain tissue, and skull on or off matters little.
* `scope_features`: per scan, the features of one `FEATURE_SETS` entry, on grey levels divided
  by the inner region's 99th percentile (scanner gain and window fall out):
  "intensity" (quantiles and shares of the grey levels, the core-to-edge ratio, the inner
  region's share of the head and the head's aspect), "thumbnail" (the inner region's bounding
  box cut to `THUMBNAIL_SIDE` x `THUMBNAIL_SIDE` by area averaging), or both.
* A detector is a plain dict (JSON, no pickle): the variant, standardisation, coefficients,
  intercept and threshold that `studies.scope` fitted; `scope_scores` applies it and
  `scope_warnings` words the scans at or above its threshold.

A second kind of detector (rule `scope_sequence_cnn`, `studies.scope_cnn`) is a small network
that tells FLAIR-like slices from T1: `sequence_inputs` makes its input (the brain, or the head,
boxed, squared and resized), the network itself ships as ONNX beside `scope.json` (kind "cnn"),
and the caller passes it to `scope_scores` (anything with `predict_on_batch`).

NumPy and Pillow only (what `predict` already imports): the detector runs on every scan.
"""

from __future__ import annotations

import numpy as np

from .dataset import grey_stack, head_mask
from .morphology import erode, fill_holes

#: Pixels eroded from the head's filled outline: about a centimetre at 240 px, the depth of
#: scalp and skull on a clinical slice.
INNER_DEPTH = 14
#: Pixels eroded further for the core of `core_edge_ratio`.
CORE_DEPTH = 16
#: An inner region smaller than this many pixels (a slice at the very top of the head) is
#: replaced by the filled head itself.
MIN_INNER_PIXELS = 100
#: The thumbnail's side in pixels.
THUMBNAIL_SIDE = 12

INTENSITY_FEATURES = ("q05", "q10", "q25", "q50", "q75", "q90", "std", "bright_share", "dark_share",
                      "core_edge_ratio", "inner_share", "aspect")
THUMBNAIL_FEATURES = tuple(f"thumb_{row}_{col}" for row in range(THUMBNAIL_SIDE) for col in range(THUMBNAIL_SIDE))
#: The features of each detector variant (the rule `scope_check` names the variants).
FEATURE_SETS = {"intensity": INTENSITY_FEATURES, "thumbnail": THUMBNAIL_FEATURES,
                "intensity+thumbnail": INTENSITY_FEATURES + THUMBNAIL_FEATURES}

#: What a warning says; {score} and {threshold} are filled in.
WARNING = ("unlike the FLAIR-like scans the model was trained on (out-of-scope score {score:.2f}, "
           "warned from {threshold:.2f}): another sequence, such as post-contrast T1, or another view?")


def inner_region(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inner region, filled head) of one grey scan (H, W): boolean masks."""
    head = fill_holes(head_mask(grey[np.newaxis])[0])
    inner = erode(head, INNER_DEPTH)
    if inner.sum() < MIN_INNER_PIXELS:
        inner = head
    return inner, head


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _intensity(normal: np.ndarray, inner: np.ndarray, head: np.ndarray) -> list[float]:
    values = normal[inner]
    if values.size == 0:
        return [0.0] * len(INTENSITY_FEATURES)
    core = erode(inner, CORE_DEPTH)
    edge = inner & ~core
    ratio = float(normal[core].mean() / max(normal[edge].mean(), 1e-6)) if core.any() and edge.any() else 1.0
    box = _box(head)
    aspect = (box[0].stop - box[0].start) / (box[1].stop - box[1].start)
    return [*np.quantile(values, (0.05, 0.10, 0.25, 0.50, 0.75, 0.90)).tolist(), float(values.std()),
            float((values > 0.75).mean()), float((values < 0.25).mean()), ratio,
            float(inner.sum() / max(head.sum(), 1)), float(aspect)]


def _thumbnail(normal: np.ndarray, inner: np.ndarray) -> list[float]:
    from PIL import Image

    box = _box(inner)
    if box is None:
        return [0.0] * len(THUMBNAIL_FEATURES)
    crop = np.where(inner, normal, 0.0)[box].astype(np.float32)
    small = Image.fromarray(crop, mode="F").resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
    return np.asarray(small, dtype=float).ravel().tolist()


def scope_features(images, variant: str) -> np.ndarray:
    """(N, F) features of `variant` (a key of `FEATURE_SETS`) for raw grey scans (N, H, W[, 1]), 0..255."""
    if variant not in FEATURE_SETS:
        raise ValueError(f"unknown detector variant {variant!r}; known: {', '.join(FEATURE_SETS)}")
    greys = grey_stack(images)
    if greys.ndim != 3:
        raise ValueError(f"expected scans shaped (N, H, W[, 1]), got {np.shape(images)}")
    rows = []
    for grey in greys:
        inner, head = inner_region(grey)
        grey = grey.astype(np.float32)
        scale = float(np.percentile(grey[inner], 99)) if inner.any() else 0.0
        normal = grey / scale if scale > 0 else np.zeros_like(grey)
        row = []
        if variant != "thumbnail":
            row += _intensity(normal, inner, head)
        if variant != "intensity":
            row += _thumbnail(normal, inner)
        rows.append(row)
    return np.asarray(rows, dtype=float).reshape(len(greys), len(FEATURE_SETS[variant]))


DETECTOR_KEYS = ("variant", "features", "mean", "scale", "coef", "intercept", "threshold", "inner_depth", "thumbnail_side")


def check_detector(detector) -> dict:
    """Return `detector` if `scope_scores` can apply it, else raise ValueError saying why (a
    detector read from a file is checked whole before any scan is scored)."""
    if not isinstance(detector, dict):
        raise ValueError("expected a dict, as studies.scope writes scope.json")
    if detector.get("kind") == "cnn":
        _check_threshold(_check_cnn_detector(detector))
        return detector
    missing = [key for key in DETECTOR_KEYS if key not in detector]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}; rewrite it with python -m braintumor study scope pick")
    variant = detector["variant"]
    if variant not in FEATURE_SETS or list(detector["features"]) != list(FEATURE_SETS[variant]):
        raise ValueError(f"variant {variant!r} or its feature names are not this version's; refit the detector")
    for key, measured_with in (("inner_depth", INNER_DEPTH), ("thumbnail_side", THUMBNAIL_SIDE)):
        if detector[key] != measured_with:
            raise ValueError(f"fitted with {key}={detector[key]!r} but features are now measured with "
                             f"{measured_with}; refit the detector")
    width = len(FEATURE_SETS[variant])
    for key in ("mean", "scale", "coef"):
        values = np.asarray(detector[key], dtype=float) if isinstance(detector[key], list) else None
        if values is None or values.shape != (width,) or not np.isfinite(values).all():
            raise ValueError(f"'{key}' is not {width} finite numbers")
    if not (np.asarray(detector["scale"]) > 0).all():
        raise ValueError("'scale' holds a number that is not positive")
    _check_number(detector, "intercept")
    _check_threshold(detector)
    return detector


def _check_number(detector: dict, key: str) -> None:
    value = detector[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"'{key}' is {value!r}, not a number")


def _check_threshold(detector: dict) -> None:
    _check_number(detector, "threshold")
    if not 0.0 < detector["threshold"] <= 1.0:
        raise ValueError(f"'threshold' {detector['threshold']!r} is not in (0, 1]")


#: The sequence network's variants (rule `scope_sequence_cnn`): (side in pixels, the brain
#: extraction run before it; "none": the head as read).
SEQUENCE_INPUTS = {"brain64": (64, "classical-v1"), "brain96": (96, "classical-v1"), "head64": (64, "none")}
CNN_KEYS = ("kind", "variant", "side", "extraction", "threshold", "network")


def sequence_inputs(images, side: int, extraction: str) -> np.ndarray:
    """(N, side, side, 1) float32 inputs of the sequence network for raw grey scans (N, H, W[, 1]),
    0..255: the scan after `extraction` (`data.brain_extraction`; "none": as read), cut to the box
    of its pixels above the background, padded with black to a square (centred), resized
    bilinearly to `side`, and divided by the 99th percentile of those pixels (scanner gain and
    window fall out). A scan with no such pixel gives zeros."""
    from PIL import Image

    greys = grey_stack(np.asarray(images))
    if greys.ndim != 3:
        raise ValueError(f"expected scans shaped (N, H, W[, 1]), got {np.shape(images)}")
    if extraction != "none":
        from .brain_extraction import extract_brain

        greys = extract_brain(greys.astype(np.uint8)[..., np.newaxis], extraction)[..., 0]
    out = np.zeros((len(greys), side, side, 1), np.float32)
    for index, (grey, mask) in enumerate(zip(greys, head_mask(greys))):
        box = _box(mask)
        if box is None:
            continue
        crop = grey[box].astype(np.float32)
        height, width = crop.shape
        edge = max(height, width)
        square = np.zeros((edge, edge), np.float32)
        square[(edge - height) // 2:(edge - height) // 2 + height, (edge - width) // 2:(edge - width) // 2 + width] = crop
        small = np.asarray(Image.fromarray(square, mode="F").resize((side, side), Image.Resampling.BILINEAR))
        scale = float(np.percentile(grey[mask], 99))
        out[index, ..., 0] = np.clip(small / scale, 0.0, 2.0) if scale > 0 else 0.0
    return out


def _check_cnn_detector(detector: dict) -> dict:
    missing = [key for key in CNN_KEYS if key not in detector]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}; rewrite it with python -m braintumor study scope-cnn pick")
    variant = detector["variant"]
    if variant not in SEQUENCE_INPUTS or (detector["side"], detector["extraction"]) != SEQUENCE_INPUTS[variant]:
        raise ValueError(f"variant {variant!r} with side {detector['side']!r} and extraction {detector['extraction']!r} "
                         f"is not this version's ({SEQUENCE_INPUTS}); refit the detector")
    network = detector["network"]
    if not isinstance(network, str) or not network.endswith(".onnx") or "/" in network or "\\" in network:
        raise ValueError(f"'network' is {network!r}, not the name of an .onnx file beside scope.json")
    return detector


def scores_of_features(features: np.ndarray, detector: dict) -> np.ndarray:
    """The out-of-scope probability (N,) for features from `scope_features`."""
    z = (np.asarray(features, dtype=float) - np.asarray(detector["mean"])) / np.asarray(detector["scale"])
    logit = z @ np.asarray(detector["coef"], dtype=float) + float(detector["intercept"])
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -500, 500)))


def scope_scores(images, detector: dict, network=None, extracted=None, batch_size: int = 128) -> np.ndarray:
    """Per raw grey scan, the probability (0..1) that it lies outside the models' scope. A "cnn"
    detector needs its `network` (the ONNX export beside scope.json, or the Keras model: anything
    whose `predict_on_batch` maps `sequence_inputs` to (N, 1) probabilities); `extracted`: the same
    scans after the detector's brain extraction, where the caller has made them already."""
    if detector.get("kind") != "cnn":
        return scores_of_features(scope_features(images, detector["variant"]), detector)
    if network is None:
        raise ValueError(f"the {detector['variant']} detector needs its network ({detector['network']})")
    done = extracted is not None and detector["extraction"] != "none"
    inputs = sequence_inputs(extracted if done else images, detector["side"], "none" if done else detector["extraction"])
    if len(inputs) == 0:
        return np.zeros(0)
    return np.concatenate([np.asarray(network.predict_on_batch(inputs[k:k + batch_size]), dtype=float).reshape(-1)
                           for k in range(0, len(inputs), batch_size)])


def scope_warnings(scores, threshold: float) -> list[str | None]:
    """Per score, `WARNING` worded for a score at or above `threshold`, else None."""
    return [WARNING.format(score=float(score), threshold=threshold) if score >= threshold else None for score in scores]
