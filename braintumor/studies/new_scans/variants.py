"""The variants the new-scans study compares (decision `new_scans_variants`), each one change to
the A + LGG model's configuration (braintumor/configs/a-lgg.toml), and how each trains: one
function for every row and for the final model, so that the table describes that model."""

from __future__ import annotations

from ...decisions import decision
from . import rule

BASE_MODEL = "a-lgg"  # the configuration each variant changes one thing of
WIDER_WIDTHS = decision("new_scans_variants").parameters["wider_widths"]


def variant_architecture(variant: str) -> dict:
    """configs/a-lgg.toml's architecture with the variant's one change."""
    from ...models import configs

    architecture = dict(configs.architecture(BASE_MODEL))
    if variant == "wider":
        architecture["widths"] = tuple(WIDER_WIDTHS)
    elif variant == "photometric_lgg_only":
        architecture["photometric"] = False  # applied through a gate instead (`per_source`)
    elif variant != "head_area_weighted":
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(rule.VARIANTS)}")
    return architecture


def fit_variant(variant: str, seed: int, sources, schedule: str = "full", recipe_from: str = BASE_MODEL):
    """Build and train `variant` under `seed` on the pooled rows of `sources` (main source first),
    as every row and the final model train, with the recipe of configuration `recipe_from` on
    `schedule` (the final model's own configuration has the same full recipe, and a shorter check
    schedule). Returns (saved network, fit, rows trained per epoch)."""
    from ...data.sources import pooled
    from ...evaluation.shortcut import pooled_training_weights
    from ...models import configs
    from ...models.networks import build_improved_cnn, set_determinism, train
    from ...models.per_source import GATE_INPUT, with_gated_photometric

    set_determinism(seed)
    train_part, val_part = pooled(sources, "train"), pooled(sources, "val")
    model = build_improved_cnn(**variant_architecture(variant), seed=seed)
    trained, x_train, x_val = model, train_part["images"], val_part["images"]
    if variant == "photometric_lgg_only":  # the gate is 1 on LGG's rows (source 1)
        trained = with_gated_photometric(model, seed)
        x_train = {"scan": x_train, GATE_INPUT: (train_part["source"] == 1).astype("float32")[:, None]}
        x_val = {"scan": x_val, GATE_INPUT: (val_part["source"] == 1).astype("float32")[:, None]}
    fit = train(trained, x_train, train_part["labels"], x_val, val_part["labels"],
                **configs.training_recipe(recipe_from, schedule),
                **pooled_training_weights(train_part, val_part, 0 if variant == "head_area_weighted" else None),
                seed=seed, verbose=2)
    return model, fit, len(train_part["labels"])
