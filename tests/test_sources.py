"""The second training source and the source interface: folder checks, near-duplicate
groups, packing and splitting, pooling, per-source class balance, and the study's pick rule."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from braintumor.models import specs as model_specs
from braintumor.cli import main
from braintumor.data.dataset import DataError, load_npz
from braintumor.data.sources import (EXTRA_CLASS_FOLDERS, EXTRA_ENV_VAR, Source, balanced_weights, find_extra_dir,
                                near_duplicate_groups, pooled, prepare_extra)
from braintumor.data.splits import read_splits


def _scan(seed: int, side: int = 224) -> np.ndarray:
    """A random blob on black: different seeds give clearly different thumbnails."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((side, side), np.uint8)
    top, left = rng.integers(10, side // 2, 2)
    pixels[top:top + side // 3, left:left + side // 3] = rng.integers(60, 255, (side // 3, side // 3))
    return pixels


def make_extra(root, per_folder: int = 6):
    """A tiny extra source: `per_folder` scans in each class folder (RGB JPEG, as the download)."""
    seed = 0
    for folder in EXTRA_CLASS_FOLDERS:
        (root / folder).mkdir(parents=True)
        for i in range(per_folder):
            seed += 1
            Image.fromarray(_scan(seed)).convert("RGB").save(root / folder / f"{folder}_{i}.jpg", quality=95)
    return root


def test_find_extra_dir_is_none_when_unset_and_names_a_bad_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(EXTRA_ENV_VAR, raising=False)
    assert find_extra_dir() is None
    with pytest.raises(DataError, match="is not a folder"):
        find_extra_dir(tmp_path / "nowhere")
    root = make_extra(tmp_path / "extra", per_folder=1)
    monkeypatch.setenv(EXTRA_ENV_VAR, str(root))
    assert find_extra_dir() == root
    (root / "scans").mkdir()
    with pytest.raises(DataError, match=r"unknown folder\(s\) scans/"):
        find_extra_dir()
    (root / "scans").rmdir()
    for path in (root / "notumor").iterdir():
        path.unlink()
    (root / "notumor").rmdir()
    with pytest.raises(DataError, match="lacks notumor/"):
        find_extra_dir()


def test_near_duplicates_are_grouped_and_chains_joined():
    base = _scan(1, side=240)
    shifted = np.roll(base, 1, axis=1)  # the same slice moved by a pixel
    images = np.stack([base, _scan(2, 240), shifted, _scan(3, 240), base])[..., None]
    groups = near_duplicate_groups(images, threshold=1.5)
    assert groups[0] == groups[2] == groups[4]
    assert len({groups[0], groups[1], groups[3]}) == 3


def test_prepare_extra_packs_labels_and_splits_groups_together(tmp_path):
    root = make_extra(tmp_path / "extra", per_folder=10)
    copy = (root / "glioma" / "glioma_0.jpg").read_bytes()
    (root / "glioma" / "glioma_copy.jpg").write_bytes(copy)  # a byte-identical copy
    out, splits = tmp_path / "extra.npz", tmp_path / "extra_splits.csv"
    summary = prepare_extra(root, out=out, splits_out=splits)
    packed = load_npz(out)
    assert summary["images"] == 41 and summary["class_counts"] == {"no tumour": 10, "tumour": 31}
    assert packed.images.shape == (41, 240, 240, 1) and packed.images.dtype == np.uint8
    labels = dict(zip(packed.names.tolist(), packed.labels.tolist()))
    assert labels["notumor/notumor_3.jpg"] == 0 and labels["pituitary/pituitary_3.jpg"] == 1
    split = read_splits(splits)
    assert split["glioma/glioma_0.jpg"] == split["glioma/glioma_copy.jpg"]
    assert all(min(counts.values()) > 0 for counts in summary["split_counts"].values())


def test_a_corrupt_file_is_named_and_nothing_is_written(tmp_path):
    root = make_extra(tmp_path / "extra", per_folder=2)
    (root / "meningioma" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "extra.npz"
    with pytest.raises(DataError, match="broken.jpg"):
        prepare_extra(root, out=out, splits_out=tmp_path / "s.csv")
    assert not out.exists() and not (tmp_path / "s.csv").exists()


def test_the_same_file_in_two_classes_is_refused(tmp_path):
    root = make_extra(tmp_path / "extra", per_folder=2)
    (root / "notumor" / "twin.jpg").write_bytes((root / "glioma" / "glioma_0.jpg").read_bytes())
    with pytest.raises(DataError, match="different classes"):
        prepare_extra(root, out=tmp_path / "e.npz", splits_out=tmp_path / "s.csv")


def test_cli_prepare_refuses_a_bad_extra_folder_before_writing(tmp_path, capsys):
    out = tmp_path / "main.npz"
    status = main(["prepare", "--data-dir", str(tmp_path / "missing-main"), "--extra-dir", str(tmp_path / "nowhere"),
                   "--out", str(out), "--splits", str(tmp_path / "s.csv")])
    assert status == 2 and not out.exists()
    assert "nowhere" in capsys.readouterr().err


def _source(name, labels, split, groups=None):
    labels = np.asarray(labels)
    return Source(name=name, images=np.zeros((len(labels), 240, 240, 1), np.uint8), labels=labels,
                  names=np.array([f"s{i}" for i in range(len(labels))]),
                  groups=np.arange(len(labels)) if groups is None else np.asarray(groups), split=np.asarray(split))


def test_pooled_keeps_sources_apart_in_names_and_groups():
    a = _source("a", [0, 1, 0], ["train", "train", "val"])
    b = _source("b", [1, 1], ["train", "test"], groups=[0, 0])
    train = pooled([a, b], "train")
    assert train["names"].tolist() == ["a:s0", "a:s1", "b:s0"]
    assert train["source"].tolist() == [0, 0, 1]
    everything = pooled([a, b])
    assert everything["groups"].tolist() == [0, 1, 2, 3, 3]  # b's group 0 is not a's group 0
    with pytest.raises(ValueError):
        pooled([a], "holdout")


def test_balanced_weights_equalise_classes_within_each_source():
    labels = np.array([0, 1, 1, 1, 0, 0, 1])
    source = np.array([0, 0, 0, 0, 1, 1, 1])
    weights = balanced_weights(labels, source)
    for s in (0, 1):
        inside = source == s
        assert weights[inside & (labels == 0)].sum() == pytest.approx(weights[inside & (labels == 1)].sum())
        assert weights[inside].sum() == pytest.approx(inside.sum())  # each source keeps its weight


def _row(name, sources, a, matched, b):
    return {"name": name, "sources": sources, "validation": {
        "brain_tumor": {"roc_auc": a}, "brain_tumor_matched": {"roc_auc": matched}, "extra": {"roc_auc": b}}}


def test_pick_rule_reads_the_worst_validation_auc_of_two_source_rows_only():
    rows = [
        _row("A only, best everywhere", ["brain-tumor"], 1.0, 1.0, 1.0),
        _row("high on A, weak on B", ["brain-tumor", "extra"], 0.999, 0.998, 0.90),
        _row("even", ["brain-tumor", "extra"], 0.99, 0.98, 0.97),
        _row("even, higher mean", ["brain-tumor", "extra"], 0.995, 0.98, 0.97),
    ]
    assert model_specs.pick_two_source(rows)["name"] == "even, higher mean"
    with pytest.raises(ValueError, match="no row trained on both sources"):
        model_specs.pick_two_source(rows[:1])


def test_specs_name_distinct_files_and_known_sources():
    from braintumor.data.sources import LOADERS

    files = [spec.file for spec in model_specs.SPECS.values()]
    assert len(set(files)) == len(files)
    assert all(set(spec.sources) <= set(LOADERS) for spec in model_specs.SPECS.values())
    assert model_specs.DEFAULT_MODEL in model_specs.SPECS
    with pytest.raises(KeyError, match="single-source"):
        model_specs.resolve("three-source")


def test_load_sources_takes_a_source_already_in_memory_and_refuses_unknown_names(monkeypatch):
    from braintumor.data import sources

    in_memory = _source("brain-tumor", [0, 1], ["train", "test"])
    read = []
    monkeypatch.setitem(sources.LOADERS, "extra", lambda: read.append("extra") or _source("extra", [1], ["train"]))
    loaded = sources.load_sources(["brain-tumor", "extra"], loaded={"brain-tumor": in_memory})
    assert loaded[0] is in_memory and loaded[1].name == "extra" and read == ["extra"]
    with pytest.raises(ValueError, match="unknown source"):
        sources.load_sources(["elsewhere"])


def test_subset_cuts_every_array_alike_and_refuses_anything_but_one_boolean_per_row():
    from braintumor.data.sources import Source

    source = Source("s", np.zeros((4, 2, 2, 1), np.uint8) + np.arange(4)[:, None, None, None].astype(np.uint8),
                    np.array([0, 1, 0, 1]), np.array(["a", "b", "c", "d"]), np.array([0, 0, 1, 2]),
                    np.array(["train", "val", "test", "train"]))
    kept = source.subset(np.array([True, False, True, True]))
    assert kept.names.tolist() == ["a", "c", "d"] and kept.split.tolist() == ["train", "test", "train"]
    assert kept.images[:, 0, 0, 0].tolist() == [0, 2, 3] and kept.groups.tolist() == [0, 1, 2]
    assert kept.labels.tolist() == [0, 0, 1] and source.names.tolist() == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="one boolean per row"):
        source.subset(np.array([0, 2]))
    with pytest.raises(ValueError, match="one boolean per row"):
        source.subset(np.array([True, False]))
