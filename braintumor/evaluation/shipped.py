"""Each model that ships, analysed on the sets it is for: the pieces erroranalysis.ipynb calls.

Three models are looked at, each reloaded from its folder (`models.configs`) under the output
root the notebooks write into (`config.output_root()`: the repository under `make reproduce`,
build/check/ under `make test`):

* ``single-source``: the notebooks' model for skull-stripped slices like A's;
* ``new-scans``: `predict`'s default, for scans from elsewhere, scored on A's and LGG's test
  rows and on the outside scans C, at its card's threshold;
* ``reference``: the design card's two-convolution CNN, at its fixed 0.5 (the larger of its
  two softmax outputs), scored beside the others on A's test rows.

A model's threshold comes from its folder: its `config.toml`'s `[rules] threshold` when that
is a fixed number ("fixed 0.5"), else the `threshold` of its `card.json` (written by
model.ipynb); a missing card is an error, never a silent 0.5. What runs before the network
(`[preprocessing] brain_extraction`) is applied to every set before it is scored, as training
and `predict` do, so that the figures and Grad-CAM describe what the network saw.

TensorFlow is imported only where a model runs (`score_set`'s default, `error_gradcam`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config
from ..models import configs
from .analysis import errors_by_confidence
from .metrics import binary_metrics

#: How every figure title and table names each model.
MODEL_TITLES = {"single-source": "Single-source CNN", "new-scans": "New-scans model (predict's default)",
                "reference": "Reference CNN"}

#: The sets `predict`'s default is analysed on, by the keys the study records use, and how tables name them.
SET_TITLES = {"brain-tumor_test": "A test rows", "lgg_test": "LGG test rows", "outside": "outside scans C"}

#: Short names for the figures' files (img/new_scans_<kind>_<slug>.png).
SET_SLUGS = {"brain-tumor_test": "a_test", "lgg_test": "lgg_test", "outside": "outside"}

ERROR_KINDS = ("missed tumour", "false alarm")  # label 1 called 'no tumour'; label 0 called 'tumour'

#: The Grad-CAM shares of each set are taken over a seeded sample of at most this many
#: misclassified and this many correct scans (every scan of every set would cost minutes).
HEAT_SAMPLE_PER_GROUP = 16


def model_file(name: str, out: str | Path | None = None) -> Path:
    """Model `name`'s `.keras` file in its folder under the output root `out` (default:
    `config.output_root()`), as the notebooks find `OUT / config.MODEL_PATH`."""
    return Path(out if out is not None else config.output_root()) / configs.model_dir(name) / configs.KERAS_FILE


def card_file(name: str, out: str | Path | None = None) -> Path:
    """Model `name`'s `card.json` under the output root `out` (model.ipynb writes it there)."""
    return Path(out if out is not None else config.output_root()) / configs.model_dir(name) / configs.CARD_FILE


def _fixed(rule: str) -> float | None:
    """0.5 for "fixed 0.5"; None for a rule that is not a fixed number."""
    words = str(rule).split()
    if len(words) == 2 and words[0] == "fixed":
        try:
            return float(words[1])
        except ValueError:
            return None
    return None


def threshold_of(name: str, out: str | Path | None = None) -> tuple[float, str]:
    """(threshold, rule) of model `name`: the fixed number its `config.toml` writes, else its
    card's `threshold`. Raises FileNotFoundError without a card, ValueError for an unusable one."""
    rule = configs.load_config(name).get("rules", {}).get("threshold", "")
    fixed = _fixed(rule)
    if fixed is not None:
        return fixed, rule
    path = card_file(name, out)
    if not path.is_file():
        raise FileNotFoundError(f"no card for model {name!r} at '{path}': model.ipynb writes it (make train)")
    threshold = json.loads(path.read_text(encoding="utf-8")).get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"the card of model {name!r} holds no threshold in 0..1 (found {threshold!r})")
    return float(threshold), rule


def preprocessing_of(name: str) -> str:
    """What runs before model `name`'s network (`[preprocessing] brain_extraction`; "none" when absent)."""
    return configs.load_config(name).get("preprocessing", {}).get("brain_extraction", "none")


def prepared(images: np.ndarray, method: str) -> np.ndarray:
    """`images` as the network sees them after `method`'s brain extraction ("none": unchanged)."""
    if method == "none":
        return images
    from ..data.brain_extraction import extract_brain

    return extract_brain(images, method)


@dataclass
class ScoredSet:
    """One model's scores on one set: the scans (as the network saw them), their labels and
    names, its tumour probabilities, the threshold and `metrics.binary_metrics`' figures."""

    key: str
    images: np.ndarray
    labels: np.ndarray
    names: np.ndarray
    probability: np.ndarray
    threshold: float
    metrics: dict

    @property
    def title(self) -> str:
        return SET_TITLES.get(self.key, self.key)

    @property
    def wrong(self) -> np.ndarray:
        return (self.probability >= self.threshold).astype(int) != self.labels


def score_set(model, key: str, images, labels, names, threshold: float, predict=None, with_ci: bool = True) -> ScoredSet:
    """Score `model` on one set: its probabilities (`predict(model, images)`, default
    `networks.predict_tumour_probability`) and figures at `threshold`."""
    if predict is None:
        from ..models.networks import predict_tumour_probability as predict
    labels = np.asarray(labels).astype(int)
    if not len(images) == len(labels) == len(names):
        raise ValueError(f"{key}: {len(images)} scans, {len(labels)} labels and {len(names)} names differ in number")
    probability = np.asarray(predict(model, images), dtype=float)
    return ScoredSet(key, np.asarray(images), labels, np.asarray(names), probability, float(threshold),
                     binary_metrics(labels, probability, threshold, with_ci=with_ci))


def evaluation_sets(a_test: dict, outside=None, lgg_loader=None, schedule: str = "full") -> tuple[dict[str, dict], list[str]]:
    """The sets `predict`'s default is analysed on, each {'images', 'labels', 'names'}: A's test
    rows (`a_test`, already loaded), LGG's test rows (`lgg_loader()`, default
    `sources.lgg_source`) and the outside scans (`outside`, an `external.ExternalSet` or None),
    with a line for each set left out or cut and why.

    On the "check" schedule (make test) LGG's test rows and the outside scans are cut to
    `splits.pass_rows`, because the brain extraction runs scan by scan; A's test rows stay whole,
    as the other models are scored on all of them."""
    from ..data.dataset import DataError
    from ..data.splits import pass_rows

    if lgg_loader is None:
        from ..data.sources import lgg_source as lgg_loader
    sets = {"brain-tumor_test": {key: a_test[key] for key in ("images", "labels", "names")}}
    skipped = []
    try:
        sets["lgg_test"] = lgg_loader().part("test")
    except DataError as missing:
        skipped.append(f"LGG test rows skipped: {str(missing).split(';')[0]}")
    if outside is None:
        skipped.append("outside scans C skipped: BRAIN_TUMOR_EXTERNAL is not set")
    else:
        sets["outside"] = {"images": outside.images, "labels": outside.labels, "names": outside.names}
    for key in ("lgg_test", "outside"):
        if key in sets and len(rows := pass_rows(len(sets[key]["labels"]), schedule)) < len(sets[key]["labels"]):
            skipped.append(f"{key}: {len(rows)} of {len(sets[key]['labels'])} rows ({schedule} schedule)")
            sets[key] = {name: np.asarray(values)[rows] for name, values in sets[key].items()}
    return sets, skipped


def error_kinds(labels, probability, threshold: float, per_kind: int | None = None) -> dict[str, np.ndarray]:
    """Indices of each kind of error, the most confident first (`errors_by_confidence`'s order):
    'missed tumour' (a tumour called 'no tumour') and 'false alarm'; at most `per_kind` each."""
    labels = np.asarray(labels).astype(int)
    order = errors_by_confidence(labels, probability, threshold)
    kinds = {"missed tumour": order[labels[order] == 1], "false alarm": order[labels[order] == 0]}
    return {kind: index[:per_kind] if per_kind is not None else index for kind, index in kinds.items()}


def error_gradcam(model, scored: ScoredSet, per_kind: int = 3) -> tuple[list[np.ndarray], list[str]]:
    """Grad-CAM overlays of the most confident errors of both kinds on one set (the missed
    tumours first, then the false alarms), with captions naming the kind, the scan and p."""
    from .gradcam import gradcam, overlay

    index = np.concatenate([np.asarray(found, dtype=int)
                            for found in error_kinds(scored.labels, scored.probability, scored.threshold, per_kind).values()])
    heatmaps = gradcam(model, scored.images[index]) if len(index) else np.zeros((0,) + scored.images.shape[1:3])
    captions = [f"{'missed tumour' if scored.labels[k] == 1 else 'false alarm'}, p={scored.probability[k]:.3f}\n"
                f"{_short(scored.names[k])}" for k in index]
    return [overlay(scored.images[k], heat) for k, heat in zip(index, heatmaps)], captions


def _short(name, width: int = 26) -> str:
    name = str(name)
    return name if len(name) <= width else "..." + name[-(width - 3):]


def heat_sample(labels, probability, threshold: float, per_group: int = HEAT_SAMPLE_PER_GROUP,
                seed: int = config.SEED) -> np.ndarray:
    """Indices (sorted) of a seeded sample of at most `per_group` misclassified and `per_group`
    correct scans: what a set's Grad-CAM shares are taken over."""
    labels = np.asarray(labels).astype(int)
    wrong = (np.asarray(probability, dtype=float) >= threshold).astype(int) != labels
    rng = np.random.default_rng(seed)
    picked = [rng.choice(pool, min(per_group, len(pool)), replace=False)
              for pool in (np.flatnonzero(wrong), np.flatnonzero(~wrong))]
    return np.sort(np.concatenate(picked).astype(int))


def sampled_heat(model, scored: ScoredSet, per_group: int = HEAT_SAMPLE_PER_GROUP, seed: int = config.SEED) -> dict:
    """`analysis.gradcam_heat_summary` over `heat_sample`'s scans of one set, with the sample's size."""
    from .analysis import gradcam_heat_summary

    index = heat_sample(scored.labels, scored.probability, scored.threshold, per_group, seed)
    heat = gradcam_heat_summary(model, scored.images[index], scored.labels[index], scored.probability[index],
                                scored.threshold)
    return {**heat, "sample_per_group": int(per_group), "seed": int(seed)}


def onnx_agreements(sets: dict, out: str | Path, schedule: str = "full") -> dict:
    """How closely each shipped model's ONNX export scores `sets` ({where: raw scans}) like its
    Keras model (`models.export.agreement`, at the model's threshold), with the bound it must
    meet: {model: {where: figures + "tolerance"}}. A model this run trained (its `.keras` under
    `out`) is compared there, any other as committed; a model without a `.keras` file is left
    out. Each set is cut to its `splits.pass_rows` (a sample on the check schedule)."""
    from ..data.splits import pass_rows
    from ..models import specs
    from ..models.export import agreement, agreement_tolerance
    from ..models.networks import load_model
    from ..models.onnx_runtime import onnx_path_for

    sets = {where: np.asarray(images)[pass_rows(len(images), schedule)] for where, images in sets.items()}
    figures = {}
    for spec in specs.SPECS.values():
        retrained = (Path(out) / spec.file).is_file()
        root = Path(out) if retrained else config.REPO_ROOT
        if not (root / spec.file).is_file():
            continue
        keras_model, (threshold, _) = load_model(root / spec.file), threshold_of(spec.name, root)
        figures[spec.name] = {where: {**agreement(keras_model, onnx_path_for(root / spec.file), images, threshold),
                                      "tolerance": agreement_tolerance(retrained)}
                              for where, images in sets.items()}
    return figures


def set_summary(scored: ScoredSet, heat: dict | None = None, figures: dict | None = None) -> dict:
    """What error_analysis.json keeps of one set: counts, figures at the threshold, the errors
    of each kind, the Grad-CAM shares (`sampled_heat`) and the figures' files."""
    m = scored.metrics
    errors = error_kinds(scored.labels, scored.probability, scored.threshold)
    summary = {"title": scored.title, "n": m["n"], "tumours": int(scored.labels.sum()), "threshold": scored.threshold,
               "confusion": m["confusion"], **{key: m[key] for key in ("roc_auc", "accuracy", "sensitivity", "specificity")},
               "misclassified": int(scored.wrong.sum()),
               "missed_tumours": int(len(errors["missed tumour"])), "false_alarms": int(len(errors["false alarm"]))}
    if heat is not None:
        summary["heat"] = heat
    if figures is not None:
        summary["figures"] = dict(figures)
    return summary


def figure_files(key: str, img_dir: str | Path = config.IMG_DIR) -> dict[str, str]:
    """The new-scans model's figures of set `key`, relative to the output root (posix)."""
    slug = SET_SLUGS.get(key, key)
    return {kind: (Path(img_dir) / f"new_scans_{kind}_{slug}.png").as_posix() for kind in ("misclassified", "gradcam")}


COMPARED = ("roc_auc", "accuracy", "sensitivity", "specificity")


def comparison_rows(figures: dict[str, dict]) -> list[dict]:
    """One row per model (name -> `binary_metrics` figures on the same set): scans, threshold and
    `COMPARED`, in the order given; every model must have scored the same number of scans."""
    counts = {name: m["n"] for name, m in figures.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"the models scored different sets: {counts}")
    return [{"model": name, "scans": int(m["n"]), "threshold": float(m["threshold"]),
             **{key: float(m[key]) for key in COMPARED}} for name, m in figures.items()]
