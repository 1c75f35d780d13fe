"""Is this scan unlike the training data? Cheap per-image cues and bounds set on training rows.

The model only ever saw the Kaggle slices: skull-stripped BraTS brains, centred on a black
picture. A scan from elsewhere (a clinical JPEG with skull and scalp, a tight crop, a
photo) gets a probability all the same, and that probability means little. `input_cues`
measures a few things any such scan betrays; `fit_input_check` records, for each, the
range the training rows span (between two quantiles); `input_warnings` names the cues of
a scan that fall outside. It is a plausibility check, not a guarantee: a scan inside every
range can still be unlike the training data in ways these cues do not see.

The rule is a plain dict (JSON-able) so that it can live in metrics.json beside the model,
where `predict` reads it. `predict` runs the check on every scan, so this module needs only
NumPy: its two morphology steps (`fill_holes`, `erode`) come from `data.morphology`, equal
to SciPy's `ndimage.binary_fill_holes` and `binary_erosion` with their default (cross)
structure, without SciPy's import in `predict`'s start-up.
"""

from __future__ import annotations

import numpy as np

from .dataset import HEAD_GREY_LEVEL, border_mask, grey_stack, head_mask
from .morphology import erode, fill_holes

#: Width in pixels of the picture's outer band that `dark_frame` looks at.
FRAME_WIDTH = 8
#: Depth in pixels of the head's outer rim that `bright_rim` looks at (scalp and skull
#: lie in the outer few millimetres of a head; at 240 px a head is ~1 mm a pixel).
RIM_DEPTH = 4

#: What each cue measures, in the words a warning uses ({value} and the bounds are shares
#: 0..1 shown as percentages, except `head_grey`, a grey level 0..255).
CUES = {
    "head_fraction": "head fills {value} of the picture",
    "dark_frame": "dark border {value}",
    "bright_rim": "bright rim around the head (skull?) {value}",
    "head_grey": "mean grey of the head {value}",
    "head_box": "head's bounding box covers {value} of the picture",
}
_GREY_LEVEL_CUES = {"head_grey"}


def _bright_rim_share(grey: np.ndarray, mask: np.ndarray) -> float:
    """Share of the head's outer rim (RIM_DEPTH px inside its filled outline) brighter than
    the head's median grey. Scalp fat and skull make it higher on clinical scans; a stripped
    brain's edge is cortex blurred into the black background. A weak cue on its own (the
    training rows spread widely), so it only flags the extremes."""
    filled = fill_holes(mask)
    rim = filled & ~erode(filled, RIM_DEPTH)
    if not rim.any() or not mask.any():
        return 0.0
    return float((grey[rim] > np.median(grey[mask])).mean())


def _box_share(mask: np.ndarray) -> float:
    """Area of the bounding box of the head mask over the picture's area (0 for no head)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return 0.0
    return float((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1) / mask.size)


def input_cues(images) -> dict[str, np.ndarray]:
    """Per image, the cues of CUES, each an (N,) float array.

    `images`: raw grey scans, (N, H, W, 1) or (N, H, W) uint8 0..255, as `read_scan`
    returns them and as the training array holds them (not scaled to 0..1).
    """
    greys = grey_stack(images)
    if greys.ndim != 3:
        raise ValueError(f"expected scans shaped (N, H, W[, 1]), got {np.shape(images)}")
    masks = head_mask(greys)
    frame = border_mask(greys.shape[1:], FRAME_WIDTH)
    head_pixels = masks.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        head_grey = np.where(head_pixels > 0, (greys * masks).sum(axis=(1, 2)) / head_pixels, 0.0)
    return {
        "head_fraction": masks.mean(axis=(1, 2)),
        "dark_frame": (greys[:, frame] <= HEAD_GREY_LEVEL).mean(axis=1),
        "bright_rim": np.array([_bright_rim_share(g, m) for g, m in zip(greys, masks)]),
        "head_grey": head_grey.astype(float),
        "head_box": np.array([_box_share(m) for m in masks]),
    }


def fit_input_check(train_images, low_q: float = 0.005, high_q: float = 0.995) -> dict:
    """The rule: per cue, [low, high] = the `low_q` and `high_q` quantiles over `train_images`.

    Set from training rows only, so that the test rows can say how often it fires on scans
    like the training data. Returns a JSON-able dict (bounds, quantiles, how it was set).
    """
    if not 0.0 <= low_q < high_q <= 1.0:
        raise ValueError(f"need 0 <= low_q < high_q <= 1, got low_q={low_q}, high_q={high_q}")
    cues = input_cues(train_images)
    n = len(next(iter(cues.values())))
    if n == 0:
        raise ValueError("no training scans to set the input check from")
    bounds = {name: [float(np.quantile(values, low_q)), float(np.quantile(values, high_q))]
              for name, values in cues.items()}
    return {
        "bounds": bounds,
        "quantiles": [low_q, high_q],
        "n_train": int(n),
        "frame_width": FRAME_WIDTH,
        "rim_depth": RIM_DEPTH,
        "head_grey_level": HEAD_GREY_LEVEL,
        "description": (
            f"Each cue's range (head fraction, dark border, bright rim, head grey, head bounding box) "
            f"is its {low_q:.1%}-{high_q:.1%} quantiles over {n} training scans; a scan with any cue "
            f"outside its range gets a warning."
        ),
    }


def fit_input_check_by_source(train_images: dict, q: float) -> dict:
    """The rule set per source: per cue, [low, high] = the union of each source's own range
    between its `q` and 1 - `q` quantiles over its train rows (`train_images`: {source: scans}).

    A pooled quantile is set mostly by the larger source, and cuts the smaller one's spread
    (rule `scope_sequence_cnn`: LGG's heads fill more of the picture than A's); here each source
    keeps its own range. `q` = 0 takes each source's whole train range."""
    if not 0.0 <= q < 0.5:
        raise ValueError(f"need 0 <= q < 0.5, got q={q}")
    if not train_images:
        raise ValueError("no training sources to set the input check from")
    rules = {name: fit_input_check(images, q, 1.0 - q) for name, images in train_images.items()}
    bounds = {cue: [min(rule["bounds"][cue][0] for rule in rules.values()),
                    max(rule["bounds"][cue][1] for rule in rules.values())] for cue in CUES}
    counts = ", ".join(f"{name} {rule['n_train']}" for name, rule in rules.items())
    return {**next(iter(rules.values())), "bounds": bounds, "quantiles": [q, 1.0 - q],
            "n_train": int(sum(rule["n_train"] for rule in rules.values())),
            "by_source": {name: rule["n_train"] for name, rule in rules.items()},
            "description": (f"Each cue's range (head fraction, dark border, bright rim, head grey, head bounding box) "
                            f"is the union of each training source's own {q:.2%}-{1 - q:.2%} quantiles over its "
                            f"train scans ({counts}); a scan with any cue outside its range gets a warning.")}


def _show(name: str, value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if name in _GREY_LEVEL_CUES else f"{value:.{decimals}%}"


def _describe(name: str, value: float, low: float, high: float) -> str:
    """"<cue> <value> (training: <low>-<high>)", with as few decimals as keep the value
    visibly apart from the bound it crosses (99.9% is not shown as 100% beside a 100% bound)."""
    bound = low if value < low else high
    decimals = next((d for d in range(4) if _show(name, value, d) != _show(name, bound, d)), 4)
    return (CUES[name].format(value=_show(name, value, decimals))
            + f" (training: {_show(name, low, decimals)}-{_show(name, high, decimals)})")


def check_rule(rule) -> dict:
    """Return `rule` if it is usable by `input_warnings`, else raise ValueError saying why.

    Usable: a dict whose `bounds` map known cues (keys of CUES) to [low, high] numbers with
    low <= high. A rule read from a file is checked here, not half-used later.
    """
    bounds = rule.get("bounds") if isinstance(rule, dict) else None
    if not isinstance(bounds, dict) or not bounds:
        raise ValueError("expected a dict with a non-empty 'bounds' dict, as fit_input_check writes")
    unknown = sorted(set(bounds) - set(CUES))
    if unknown:
        raise ValueError(f"unknown cue(s) {unknown}; known: {sorted(CUES)}")
    for key, measured_with in (("frame_width", FRAME_WIDTH), ("rim_depth", RIM_DEPTH),
                               ("head_grey_level", HEAD_GREY_LEVEL)):
        if key in rule and rule[key] != measured_with:
            raise ValueError(f"the rule was set with {key}={rule[key]!r} but the cues are now measured with "
                             f"{measured_with}; refit it with fit_input_check")
    for name, pair in bounds.items():
        numbers = isinstance(pair, (list, tuple)) and len(pair) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in pair)
        if not numbers or pair[0] > pair[1]:
            raise ValueError(f"bounds of {name!r} are {pair!r}, not [low, high] numbers with low <= high")
    return rule


def input_warnings(images, rule: dict) -> list[str | None]:
    """Per image, None when every cue of `rule` lies inside its bounds, else one line naming
    each cue outside with its training range, e.g. "head fills 71% of the picture
    (training: 3%-32%); dark border 40% (training: 100%-100%)"."""
    bounds = check_rule(rule)["bounds"]
    cues = input_cues(images)
    warnings: list[str | None] = []
    for index in range(len(next(iter(cues.values())))):
        outside = [_describe(name, cues[name][index], low, high)
                   for name, (low, high) in bounds.items()
                   if not low <= cues[name][index] <= high]
        warnings.append("; ".join(outside) or None)
    return warnings
