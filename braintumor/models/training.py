"""One training entry point: `train(config, schedule, overrides)`.

Every model this repository trains from its folder's `config.toml` (`models.configs`) goes through
here: its builder and architecture, its recipe on the schedule asked for, its training sources
with their row caps, and its `[training]` settings: the weighting (classes balanced within each
source when there are several, or head-area bins, decision `head_area_weighting`), the number
of networks averaged (`members`, decision `seed_ensemble`) and the sources whose rows get the
photometric augmentation (`photometric_on`; a gate when not all of them), and what runs before
the network (`[preprocessing] brain_extraction`). A study's variant is the configuration with
`overrides` ({"architecture": {...}, "recipe": {...}, "training": {...}, "preprocessing": {...}}),
so no study holds a copy of a configuration's values; the cross-validation's folds fit their
networks through `fit_networks`, on the configuration's arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import configs

#: What `[training] weighting` may say.
WEIGHTINGS = ("balanced within each source", "head_area", "none")


@dataclass
class Trained:
    """What `train` returns: the model (the networks' mean when several), each network's
    `networks.TrainResult`, and the train rows per source it trained on (after the caps).
    Unpacks as (model, first fit, rows)."""

    model: object
    fits: list = field(default_factory=list)
    rows: dict = field(default_factory=dict)

    @property
    def fit(self):
        return self.fits[0]

    def __iter__(self):
        return iter((self.model, self.fit, self.rows))


def configured(name: str, schedule: str = "full", overrides: dict | None = None) -> tuple[dict, dict]:
    """(architecture, recipe) of configuration `name` on `schedule`, with `overrides` on top."""
    overrides = overrides or {}
    unknown = set(overrides) - {"architecture", "recipe", "training", "preprocessing"}
    if unknown:
        raise ValueError(f"overrides take 'architecture', 'recipe', 'training' and 'preprocessing', not {sorted(unknown)}")
    architecture = {**configs.architecture(name), **overrides.get("architecture", {})}
    recipe = {**configs.training_recipe(name, schedule), **overrides.get("recipe", {})}
    return architecture, recipe


def settings(name: str, overrides: dict | None = None) -> dict:
    """Configuration `name`'s `[training]` weighting, members and photometric_on (default: every
    training source), with `overrides["training"]` on top."""
    written = configs.load_config(name)["training"]
    chosen = {"weighting": written["weighting"], "members": written.get("members", 1),
              "photometric_on": written.get("photometric_on"), **(overrides or {}).get("training", {})}
    if chosen["weighting"] not in WEIGHTINGS:
        raise ValueError(f"{configs.model_dir(name) / configs.CONFIG_FILE}: weighting {chosen['weighting']!r} is not one of {WEIGHTINGS}")
    return chosen


def network_seed(name: str) -> int:
    """The networks' seed of configuration `name`: $BRAIN_TUMOR_SEED where set (a sweep, or CI run
    with a seed the sweep never used), else its `[training] seed`."""
    import os

    from .. import config

    written = configs.load_config(name)["training"]
    if os.environ.get(config.SEED_ENV_VAR) or "seed" not in written:
        return config.TRAINING_SEED
    return int(written["seed"])


def training_weights(weighting: str, train_part: dict, val_part: dict) -> dict:
    """`networks.train`'s sample weights for pooled parts (`sources.pooled`) under `weighting`:
    "head_area" weighs the first (main) source by head-area bins and balances the others' classes;
    "balanced within each source" balances classes per source when there are several."""
    from ..data.weights import pooled_training_weights

    several = len(np.unique(np.concatenate([train_part["source"], val_part["source"]]))) > 1
    if weighting == "head_area":
        return pooled_training_weights(train_part, val_part, head_area_source=0)
    if weighting == "balanced within each source" and several:
        return pooled_training_weights(train_part, val_part)
    return {}


def _inputs(part: dict, gated: list[int] | None):
    """The network's inputs for `part`: its scans, with the photometric gate (1 on the rows of the
    sources at `gated`) when only some sources get the photometric augmentation."""
    from .per_source import GATE_INPUT

    if gated is None:
        return part["images"]
    return {"scan": part["images"], GATE_INPUT: np.isin(part["source"], gated).astype("float32")[:, None]}


def preprocessing(name: str, overrides: dict | None = None) -> str:
    """What runs before the network on configuration `name`'s training and validation rows
    (`[preprocessing] brain_extraction`, "none" where the table is absent, or where
    `extract_training_rows = false`: a model that reads extracted scans but was trained on them
    as given), with `overrides["preprocessing"]` on top. `predict` runs `brain_extraction` on
    every scan (the card carries it), so a model and its preprocessing travel together."""
    written = {**configs.load_config(name).get("preprocessing", {}), **(overrides or {}).get("preprocessing", {})}
    return written.get("brain_extraction", "none") if written.get("extract_training_rows", True) else "none"


def preprocessed(sources: list, method: str) -> list:
    """`sources` with `method`'s brain extraction applied to their images (unchanged for "none")."""
    if method == "none":
        return list(sources)
    from dataclasses import replace

    from ..data.brain_extraction import extract_brain

    return [replace(source, images=extract_brain(source.images, method)) for source in sources]


def fit_networks(name: str, schedule: str, train_inputs, train_labels, val_inputs, val_labels, overrides=None,
                 weights: dict | None = None, seed: int | None = None, gated: list[int] | None = None,
                 verbose: int = 0):
    """Build and train configuration `name`'s networks (its builder, architecture, recipe on
    `schedule` and members, with `overrides`) on arrays, and return (model, fits): the one place
    a network is fitted, for `train` and the cross-validation's folds alike. `seed` (default: the
    configuration's, `network_seed`) seeds the first network; a seed ensemble's others take
    seed + 1, ...; `gated`: the photometric gate's source positions (`train`)."""
    from . import networks
    from .per_source import with_gated_photometric

    architecture, recipe = configured(name, schedule, overrides)
    first = network_seed(name) if seed is None else seed
    members, fits = [], []
    for member_seed in range(first, first + settings(name, overrides)["members"]):
        networks.set_determinism(member_seed)
        network = getattr(networks, configs.builder(name))(**architecture, seed=member_seed)
        trained = network if gated is None else with_gated_photometric(network, member_seed)
        fits.append(networks.train(trained, train_inputs, train_labels, val_inputs, val_labels, **recipe,
                                   **(weights or {}), seed=member_seed, verbose=verbose))
        members.append(network)
    return networks.seed_ensemble(members), fits


def train(name: str, schedule: str = "full", overrides: dict | None = None, sources=None, seed: int | None = None,
          verbose: int = 0) -> Trained:
    """Train configuration `name` on `schedule` with `overrides`. `sources` (default: the
    configuration's training sources, loaded and, on the check schedule, sampled as
    `scheduled_source` does) are capped by the configuration's row caps, then preprocessed as
    its `[preprocessing]` says. `seed` (default: the split's seed for the caps, and for the
    networks the configuration's `[training] seed`, or $BRAIN_TUMOR_SEED where set, as `make
    check-floors` sweeps it) seeds both; a seed ensemble's networks take seed, seed + 1, ...;
    returns `Trained`."""
    from .. import config
    from ..data.sources import capped, load_sources, pooled, scheduled_source

    chosen = settings(name, overrides)
    if sources is None:
        sources = [scheduled_source(source, schedule) for source in load_sources(configs.training_sources(name))]
    caps = configs.row_caps(name)
    cap_seed = config.SEED if seed is None else seed
    sources = [capped(source, caps[source.name], cap_seed) if source.name in caps else source for source in sources]
    sources = preprocessed(sources, preprocessing(name, overrides))
    names = [source.name for source in sources]
    photometric_on = chosen["photometric_on"] or names
    gated = None if set(names) <= set(photometric_on) else [k for k, n in enumerate(names) if n in photometric_on]
    train_part, val_part = pooled(sources, "train"), pooled(sources, "val")
    model, fits = fit_networks(name, schedule, _inputs(train_part, gated), train_part["labels"], _inputs(val_part, gated),
                               val_part["labels"], overrides, training_weights(chosen["weighting"], train_part, val_part),
                               seed, gated, verbose)
    return Trained(model, fits, {s.name: int((s.split == "train").sum()) for s in sources})
