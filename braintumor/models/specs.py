"""Named models: what each is (builder, architecture, recipe, training sources, file), shared
by the notebooks, the scripts and `predict --model NAME`. Each is read from its configuration,
its folder's `config.toml` (`model/<name>/config.toml`, or `model/studies/<name>/` for a study
record; `models.configs`): edit that file, not this one.

* ``single-source``: the head-crop network trained on this dataset (source A) alone: the
  improved CNN `model.ipynb` ships as `model/single-source/model.keras` (the search row that
  `networks.choose_improved` picks from `model/improved_search.json`).
* ``two-source``: the same kind of network trained on A and the extra source (B) together,
  classes balanced within each source; its architecture is the row of the source study
  (`model/source_study.json`) that `pick_two_source` picks from validation figures alone.
* ``all-source``: the variant of the leave-one-source-out study (`model/loso_study.json`)
  trained on A, B and the LGG FLAIR source (LGG) together by `python -m braintumor study loso final`
  (the written rule `studies.loso.pick_variant` qualified no variant; `studies.loso.fallback_variant` is what
  was done instead, decision `loso_fallback`).
* ``a-lgg``: the network trained on A and the four LGG sites by `python -m braintumor study site final`
  (held-out-site study, `studies.site`).

Another model is one more model folder with its `config.toml` (and its name in `configs.NAMES`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import config
from ..decisions import decision
from . import configs, roles

STUDY_PATH = config.MODEL_DIR / "source_study.json"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: str  # a function of `models`
    sources: tuple[str, ...]  # `sources.LOADERS` names, trained on together
    file: Path  # relative to the repository root
    recipe: dict = field(default_factory=dict)  # `networks.train` keywords on the full schedule
    architecture: dict = field(default_factory=dict)  # builder keywords
    description: str = ""

    @property
    def metrics_key(self) -> str:
        """Where `metrics.json` keeps this model's figures and threshold."""
        return self.name.replace("-", "_")

    def training_recipe(self, schedule: str = "full") -> dict:
        """The recipe on `schedule` ("full" or "check"), read from the configuration when called."""
        return configs.training_recipe(self.name, schedule)


def spec_from_config(name: str, root=None) -> ModelSpec:
    """The `ModelSpec` that model `name`'s `config.toml` describes (under models root `root`)."""
    written = configs.load_config(name, root)
    return ModelSpec(name=name, builder=written["architecture"]["builder"],
                     sources=tuple(written["training"]["sources"]), file=configs.model_file(name, root),
                     recipe=configs.training_recipe(name, "full", root),
                     architecture=configs.architecture(name, root), description=written["description"])


SPECS = {name: spec_from_config(name) for name in configs.NAMES}

#: The model `predict` uses when --model is not given: read from braintumor/configs/default_model.toml
#: (`roles.default_model`), the one key that says it; tests/test_roles.py keeps that key equal to the
#: recorded outcome of the rule it names.
_DEFAULT = roles.default_entry()  # configs/default_model.toml, read once
DEFAULT_MODEL = _DEFAULT["name"]

#: The rule in force: the one default_model.toml names (`new_scans_default` since 2026-12-03). The
#: earlier rules (`site_default`, the leave-one-source-out `all_source_default`, and `default_model`,
#: which read the outside scans: the two-source model had to reach `OUTSIDE_TARGETS` there) are kept
#: in the registry as history; each of them kept the single-source model.
OUTSIDE_TARGETS = dict(decision("default_model").parameters)  # braintumor/decisions.toml
DEFAULT_RULE = decision(_DEFAULT["decided_by"]).rule

#: The rule that picks the two-source row of the source study, from validation data only,
#: written before any row was scored on A's test rows, B's held-out rows or the outside
#: scans: among rows trained on both sources, the highest worst-source validation ROC AUC,
#: min(A validation, A head-size-matched validation pairs, B validation); ties go to the
#: higher mean of the three, then to the earlier row.
PICK_RULE = decision("two_source_pick").rule


def _validation_aucs(row: dict) -> list[float]:
    validation = row["validation"]
    return [validation["brain_tumor"]["roc_auc"], validation["brain_tumor_matched"]["roc_auc"],
            validation["extra"]["roc_auc"]]


def pick_two_source(rows: list[dict]) -> dict:
    """The study row `PICK_RULE` picks. Reads only each row's `sources` and `validation`."""
    eligible = [row for row in rows if set(row["sources"]) == {"brain-tumor", "extra"}]
    if not eligible:
        raise ValueError("the source study has no row trained on both sources; run python -m braintumor study source train")
    best = max(range(len(eligible)),
               key=lambda i: (min(_validation_aucs(eligible[i])), np.mean(_validation_aucs(eligible[i])), -i))
    return eligible[best]


def read_study(path: Path = STUDY_PATH) -> dict:
    return json.loads(Path(path).read_text())


def resolve(name: str) -> ModelSpec:
    """The spec called `name`; a clear error listing the names otherwise."""
    if name not in SPECS:
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(SPECS)}")
    return SPECS[name]
