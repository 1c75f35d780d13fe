"""The one training entry point, `models.training.train(config, schedule, overrides)`: a
configuration's architecture and recipe with a study's overrides, row caps through
`Source.subset`, and a model that trains."""

import numpy as np
import pytest

from braintumor.data.sources import Source, capped
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
    kept = capped(source, {"train": 10, "val": None}, seed=1)
    assert (kept.split == "train").sum() == 10 and (kept.split == "val").sum() == 20 and "test" not in set(kept.split)
    assert kept.labels[kept.split == "train"].sum() == 5  # half tumours, as in the source
    again = capped(source, {"train": 10, "val": None}, seed=1)
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


def test_the_training_settings_come_from_the_configuration_with_overrides():
    assert training.settings("single-source") == {"weighting": "head_area", "members": 1, "photometric_on": None}
    assert training.settings("new-scans")["photometric_on"] == ["brain-tumor", "lgg"]
    assert training.settings("a-lgg", {"training": {"members": 2}})["members"] == 2
    with pytest.raises(ValueError, match="weighting 'by age' is not one of"):
        training.settings("a-lgg", {"training": {"weighting": "by age"}})


def _parts(sources):
    from braintumor.data.sources import pooled

    return pooled(sources, "train"), pooled(sources, "val")


def test_weights_follow_the_configured_weighting():
    from braintumor.data.sources import balanced_weights
    from braintumor.evaluation.shortcut import head_area_training_weights, slice_cues

    one = [_source("brain-tumor", (40, 20, 10), seed=5)]
    train_part, val_part = _parts(one)
    assert training.training_weights("balanced within each source", train_part, val_part) == {}  # one source: none
    assert training.training_weights("none", train_part, val_part) == {}
    area = [slice_cues(part["images"])["head_area"].to_numpy() for part in (train_part, val_part)]
    expected = head_area_training_weights(area[0], train_part["labels"], area[1], val_part["labels"])
    weighted = training.training_weights("head_area", train_part, val_part)
    np.testing.assert_array_equal(weighted["sample_weight"], expected["sample_weight"])  # as the notebook weighed A
    two = one + [_source("lgg", (20, 10, 5), seed=6)]
    train_part, val_part = _parts(two)
    balanced = training.training_weights("balanced within each source", train_part, val_part)
    np.testing.assert_array_equal(balanced["sample_weight"], balanced_weights(train_part["labels"], train_part["source"]))


def test_members_train_from_consecutive_seeds_and_a_gate_marks_the_photometric_sources(monkeypatch):
    from braintumor.models import networks, per_source

    built, trained_inputs = [], []
    monkeypatch.setattr(networks, "set_determinism", lambda seed: None)
    monkeypatch.setattr(networks, "build_improved_cnn", lambda seed, **_: built.append(seed) or f"network {seed}")
    monkeypatch.setattr(networks, "seed_ensemble", lambda members: tuple(members))
    monkeypatch.setattr(per_source, "with_gated_photometric", lambda network, seed: f"gated {network}")
    monkeypatch.setattr(networks, "train", lambda model, x, y, xv, yv, seed, **_: trained_inputs.append((model, x)) or seed)
    sources = [_source("brain-tumor", (8, 4, 2), seed=1), _source("lgg", (6, 4, 2), seed=2)]
    result = training.train("new-scans", overrides={"training": {"members": 2, "photometric_on": ["lgg"]}},
                            sources=sources, seed=7)
    assert built == [7, 8] and result.fits == [7, 8] and result.model == ("network 7", "network 8")
    model, x = trained_inputs[0]
    assert model == "gated network 7"
    np.testing.assert_array_equal(x[per_source.GATE_INPUT][:, 0], [0] * 8 + [1] * 6)  # 1 on LGG's rows only
    network, fit, rows = result
    assert fit == 7 and rows == {"brain-tumor": 8, "lgg": 6}
    training.train("new-scans", sources=sources)  # photometric on both sources: no gate, plain scans
    assert isinstance(trained_inputs[-1][1], np.ndarray)


def test_the_check_sample_of_a_source_and_of_its_train_arrays_are_the_same_rows():
    """One sampler: `scheduled_source` (the configured models) and `scheduled_rows` (the
    reference CNN's train arrays) must take the same train rows, or model.ipynb's two CNNs
    would be checked on different samples."""
    from braintumor.data.sources import scheduled_source
    from braintumor.data.splits import CHECK_TRAIN_ROWS, scheduled_rows

    source = _source(per_split=(1500, 300, 200), size=4)
    cut = scheduled_source(source, "check", seed=3)
    train = source.part("train")
    sample = scheduled_rows(train, "check", seed=3)
    assert list(cut.names[cut.split == "train"]) == list(sample["names"])
    assert len(sample["names"]) == CHECK_TRAIN_ROWS and sample["labels"].sum() == CHECK_TRAIN_ROWS // 2
    assert (cut.split == "val").sum() == 300 and (cut.split == "test").sum() == 200  # untouched
    with pytest.raises(ValueError, match="unknown schedule"):
        scheduled_source(source, "quick")
