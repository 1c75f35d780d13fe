"""The variants the new-scans study compares (decision `new_scans_variants`), each one change to
the A + LGG model's configuration (model/studies/a-lgg/config.toml), and how each trains: one
function for every row and for the final model, so that the table describes that model."""

from __future__ import annotations

from ...decisions import decision
from . import rule

BASE_MODEL = "a-lgg"  # the configuration each variant changes one thing of
WIDER_WIDTHS = decision("new_scans_variants").parameters["wider_widths"]


def variant_architecture(variant: str) -> dict:
    """model/studies/a-lgg/config.toml's architecture with the variant's one change."""
    from ...models import configs

    architecture = dict(configs.architecture(BASE_MODEL))
    if variant == "wider":
        architecture["widths"] = tuple(WIDER_WIDTHS)
    elif variant == "photometric_lgg_only":
        architecture["photometric"] = False  # applied through a gate instead (`per_source`)
    elif variant != "head_area_weighted":
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(rule.VARIANTS)}")
    return architecture


def variant_overrides(variant: str) -> dict:
    """The variant as `models.training.train` overrides: its architecture, and its training
    setting where that is the change (head-area weights on A; photometric augmentation on LGG only)."""
    training = {"head_area_weighted": {"weighting": "head_area"},
                "photometric_lgg_only": {"photometric_on": ["lgg"]}}.get(variant, {})
    return {"architecture": variant_architecture(variant), "training": training}


def fit_variant(variant: str, seed: int, sources, schedule: str = "full", recipe_from: str = BASE_MODEL):
    """Train `variant` under `seed` on `sources` (main source first) through `models.training.train`,
    as every row and the final model train, with the recipe and training settings of configuration
    `recipe_from` on `schedule` (the final model's own configuration has the same full recipe, and
    a shorter check schedule). Returns `training.Trained`, which unpacks as (network, fit, train
    rows per source)."""
    from ...models.training import train

    return train(recipe_from, schedule, variant_overrides(variant), sources=sources, seed=seed, verbose=2)
