"""What the scope study reads: every set described once, the cheap cues' warnings and predict's
default's probabilities (`studies.scope.rows` runs the steps).

In scope (label 0): A's rows and LGG's FLAIR slices; out of scope (label 1): the same LGG
slices in pre- and post-contrast T1 (`data.lgg_t1`). Every scan is described once by
`data.scope.scope_features` ("intensity+thumbnail" holds both feature sets; a variant takes its
columns). The cheap cues are the default's card's rule (`data.input_check`); predict's default
is scored by its ONNX export, after its preprocessing, as `predict` scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ... import config
from ...models import configs

RECORD = config.MODEL_DIR / "scope_study.json"
MODEL = "new-scans"  # predict's default: the detector ships in its folder
DETECTOR_FILE = "scope.json"
ALL = "intensity+thumbnail"  # the variant whose features hold every other's


def model_folder() -> Path:
    """predict's default's folder, absolute."""
    return config.REPO_ROOT / configs.model_dir(MODEL)


def columns(variant: str) -> slice:
    """The columns of `ALL`'s features that `variant` reads."""
    from ...data.scope import INTENSITY_FEATURES

    width = len(INTENSITY_FEATURES)
    return {"intensity": slice(0, width), "thumbnail": slice(width, None), ALL: slice(None)}[variant]


def load_data(schedule: str = "full") -> dict:
    """Every set the study reads, described once: {name: {"features", "labels" (in/out of scope),
    "split", "site", "images"?}} for A, LGG FLAIR and LGG T1, and the in-scope cue warnings.
    "check": every 8th scan, to try the code path."""
    from ...data.lgg_t1 import find_lgg_t1_dir, load_lgg_t1
    from ...data.scope import scope_features
    from ...data.sources import brain_tumor_source, lgg_source

    step = 8 if schedule == "check" else 1
    a, lgg = brain_tumor_source(), lgg_source()
    folder = find_lgg_t1_dir()
    if folder is None:
        raise SystemExit("set BRAIN_TUMOR_LGG_T1 (../shared/data/extra/lgg-t1): the study learns from the T1 slices")
    t1 = load_lgg_t1(folder)
    sets = {"brain-tumor": (a.images, a.split, np.array(["A"] * len(a.split)), 0),
            "lgg": (lgg.images, lgg.split, np.array([str(n).split("_")[1] for n in lgg.names]), 0),
            "lgg-t1": (t1.images, t1.split, t1.site, 1)}
    data = {}
    for name, (images, split, site, label) in sets.items():
        keep = np.arange(0, len(split), step)
        data[name] = {"images": images[keep], "features": scope_features(images[keep], ALL),
                      "labels": np.full(len(keep), label), "split": np.asarray(split)[keep], "site": np.asarray(site)[keep]}
    data["lgg-t1"]["sequence"] = t1.sequence[np.arange(0, len(t1.split), step)]
    return data


def rows_of(data: dict, where) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every set's rows that `where(part)` selects (a boolean mask)."""
    picked = [(part["features"][where(part)], part["labels"][where(part)]) for part in data.values()]
    return np.concatenate([f for f, _ in picked]), np.concatenate([y for _, y in picked])


def cue_rule() -> dict:
    """The five cheap cues' rule of predict's default (its card)."""
    return json.loads((model_folder() / configs.CARD_FILE).read_text(encoding="utf-8"))["input_check"]


def cue_warned(images, cues: dict) -> np.ndarray:
    from ...data.input_check import input_warnings

    return np.array([warning is not None for warning in input_warnings(images, cues)])


def default_probability(images) -> np.ndarray:
    """predict's default on raw scans, as `predict` scores them: its preprocessing, its ONNX export."""
    from ...evaluation.shipped import prepared, preprocessing_of
    from ...models.onnx_runtime import load_onnx_model

    runtime = load_onnx_model(model_folder() / configs.ONNX_FILE)
    scans = prepared(np.asarray(images), preprocessing_of(MODEL)).astype(np.float32)
    return np.concatenate([runtime.predict_on_batch(scans[k:k + 128])[:, 1] for k in range(0, len(scans), 128)])


#: The sets a scope study's one confirmation reads (each a counted look).
CONFIRM_SETS = ["brain-tumor_test", "lgg_test", "outside", "lgg-t1pre_test", "lgg-t1post_test"]


def confirm_scores(folder: Path | None = None) -> dict:
    """A scope study's one confirmation: {"scores": {set: `analysis.warning_summary`}} for the
    outside scans C, A's and LGG's test rows and the LGG T1 test rows, each warned as `predict`
    warns with the model in `folder` (default: the default's; its card's cues and its scope.json,
    `evaluation.coverage.default_warnings`) and scored by its ONNX export at its card's threshold."""
    from ...data.external import find_external_dir, load_external
    from ...data.lgg_t1 import find_lgg_t1_dir, load_lgg_t1
    from ...data.sources import brain_tumor_source, lgg_source
    from ...evaluation.analysis import warning_summary
    from ...evaluation.coverage import default_warnings, warned_scans

    folder = Path(folder or model_folder())
    warnings = default_warnings(folder)
    threshold = json.loads((folder / configs.CARD_FILE).read_text(encoding="utf-8"))["threshold"]
    outside_dir = find_external_dir()
    if outside_dir is None:
        raise SystemExit("set BRAIN_TUMOR_EXTERNAL: confirm reads every set at once")
    outside, t1 = load_external(outside_dir), load_lgg_t1(find_lgg_t1_dir())
    sets = {"brain-tumor_test": brain_tumor_source().part("test"), "lgg_test": lgg_source().part("test"),
            "outside": {"images": outside.images, "labels": outside.labels}}
    for sequence in ("t1pre", "t1post"):
        rows = (t1.split == "test") & (t1.sequence == sequence)
        sets[f"lgg-{sequence}_test"] = {"images": t1.images[rows], "labels": t1.labels[rows]}
    scores = {}
    for name, part in sets.items():
        images = np.asarray(part["images"])
        warned = warned_scans(images, warnings)["warned"]
        scores[name] = warning_summary(part["labels"], default_probability(images), threshold, warned)
    return {"scores": scores}
