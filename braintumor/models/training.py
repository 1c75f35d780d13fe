"""One training entry point: `train(config, schedule, overrides)`.

Every model this repository trains from a configuration in `braintumor/configs/` goes through
here: its builder and architecture, its recipe on the schedule asked for, its training sources
with their row caps, classes balanced within each source when there are several. A study's
variant is the configuration with `overrides` ({"architecture": {...}, "recipe": {...}}), so no
study holds a copy of a configuration's values.
"""

from __future__ import annotations

import numpy as np

from . import configs


def capped(source, caps: dict, seed: int):
    """`source` with each split cut to its cap ({"train": n or None, "val": n or None}): a class-
    stratified sample, seeded, through `Source.subset`. A split whose cap is None stays whole;
    a split without a cap (test) is dropped, since training never reads it."""
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(source.labels), bool)
    for split_name, cap in caps.items():
        rows = np.flatnonzero(source.split == split_name)
        if cap is None or len(rows) <= cap:
            keep[rows] = True
            continue
        for label in (0, 1):
            of_class = rows[source.labels[rows] == label]
            share = int(round(cap * len(of_class) / len(rows)))
            keep[rng.choice(of_class, min(share, len(of_class)), replace=False)] = True
    return source.subset(keep)


def configured(name: str, schedule: str = "full", overrides: dict | None = None) -> tuple[dict, dict]:
    """(architecture, recipe) of configuration `name` on `schedule`, with `overrides` on top."""
    overrides = overrides or {}
    unknown = set(overrides) - {"architecture", "recipe"}
    if unknown:
        raise ValueError(f"overrides take 'architecture' and 'recipe', not {sorted(unknown)}")
    architecture = {**configs.architecture(name), **overrides.get("architecture", {})}
    recipe = {**configs.training_recipe(name, schedule), **overrides.get("recipe", {})}
    return architecture, recipe


def train(name: str, schedule: str = "full", overrides: dict | None = None, sources=None, seed: int | None = None,
          verbose: int = 0):
    """Train configuration `name` on `schedule` with `overrides`. `sources` (default: the
    configuration's training sources, loaded) are capped by the configuration's row caps and, on
    the check schedule, sampled as `scheduled_source` does. Returns (model, `networks.TrainResult`,
    {source name: train rows it trained on}): the rows after the caps, which a record keeps."""
    from .. import config
    from ..data.sources import load_sources, scheduled_source
    from .specs import train_on_sources

    seed = config.SEED if seed is None else seed
    architecture, recipe = configured(name, schedule, overrides)
    if sources is None:
        sources = [scheduled_source(source, schedule) for source in load_sources(configs.training_sources(name))]
    caps = configs.row_caps(name)
    sources = [capped(source, caps[source.name], seed) if source.name in caps else source for source in sources]
    model, fit = train_on_sources(architecture, recipe, sources, balance=None, verbose=verbose,
                                  builder=configs.builder(name))
    return model, fit, {source.name: int((source.split == "train").sum()) for source in sources}
