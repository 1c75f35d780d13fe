"""The one training entry point, `models.training.train(config, schedule, overrides)`: a
configuration's architecture and recipe with a study's overrides, row caps through
`Source.subset`, and a model that trains."""

import numpy as np
import pytest

from braintumor.data.sources import Source
from braintumor.models import configs, training


def _source(name="brain-tumor", per_split=(40, 20, 10), seed=0, size=240):
    rng = np.random.default_rng(seed)
    split = np.repeat(["train", "val", "test"], per_split)
    labels = np.tile([0, 1], len(split) // 2 + 1)[:len(split)]
    images = rng.integers(0, 255, (len(split), size, size, 1), dtype=np.uint8)
    return Source(name=name, images=images, labels=labels, names=np.array([f"{name}{k}" for k in range(len(split))]),
                  groups=np.arange(len(split)), split=split)


def test_caps_sample_each_class_in_proportion_and_drop_the_test_rows():
    source = _source(per_split=(40, 20, 10))
    kept = training.capped(source, {"train": 10, "val": None}, seed=1)
    assert (kept.split == "train").sum() == 10 and (kept.split == "val").sum() == 20 and "test" not in set(kept.split)
    assert kept.labels[kept.split == "train"].sum() == 5  # half tumours, as in the source
    again = training.capped(source, {"train": 10, "val": None}, seed=1)
    assert list(again.names) == list(kept.names)  # seeded


def test_overrides_change_the_configuration_and_nothing_else():
    architecture, recipe = training.configured("a-lgg", "check", {"architecture": {"widths": (8, 8, 8, 8, 8)},
                                                                  "recipe": {"max_epochs": 1}})
    assert architecture["widths"] == (8, 8, 8, 8, 8)
    assert {k: v for k, v in architecture.items() if k != "widths"} == {
        k: v for k, v in configs.architecture("a-lgg").items() if k != "widths"}
    assert recipe == {**configs.training_recipe("a-lgg", "check"), "max_epochs": 1}
    with pytest.raises(ValueError, match="overrides take"):
        training.configured("a-lgg", overrides={"weights": {}})


def test_a_configured_model_trains_on_given_sources():
    pytest.importorskip("tensorflow")
    sources = [_source("brain-tumor", (16, 8, 4), seed=1), _source("lgg", (16, 8, 4), seed=2)]
    model, fit, trained = training.train("a-lgg", "check", {"architecture": {"widths": (4, 4, 4, 4, 4), "dense_units": (4,)},
                                                   "recipe": {"max_epochs": 1, "start_from_epoch": 1, "batch_size": 16}},
                                sources=sources)
    assert fit.epochs_run == 1 and model.output_shape[-1] == 2
    assert trained == {"brain-tumor": 16, "lgg": 16}
