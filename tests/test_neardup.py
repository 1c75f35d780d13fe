"""Thumbnail fingerprints, nearest neighbours and near-duplicates across splits."""

import numpy as np
import pytest

from braintumor.data import neardup


def smooth_images(n=8, side=32, seed=0):
    """Distinct scans: random 4 x 4 patterns blown up to side x side."""
    coarse = np.random.default_rng(seed).integers(0, 256, (n, 4, 4))
    return np.kron(coarse, np.ones((side // 4, side // 4))).astype(np.uint8)


def brute_force(images):
    thumbnails = neardup.fingerprint(images)
    distance = np.abs(thumbnails[:, None, :] - thumbnails[None, :, :]).mean(axis=2)
    np.fill_diagonal(distance, np.inf)
    return distance.argmin(axis=1), distance.min(axis=1)


def test_fingerprint_is_the_block_average():
    images = smooth_images(n=2)
    thumbnails = neardup.fingerprint(images[..., None])
    assert thumbnails.shape == (2, 256)
    expected = images[0].astype(float).reshape(16, 2, 16, 2).mean(axis=(1, 3)).ravel()
    np.testing.assert_allclose(thumbnails[0], expected)


def test_fingerprint_rejects_bad_shapes():
    with pytest.raises(ValueError, match="divisible"):
        neardup.fingerprint(np.zeros((1, 30, 30), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        neardup.fingerprint(np.zeros((30, 30), np.uint8))


def test_nearest_neighbours_find_the_copy_and_never_the_scan_itself():
    images = smooth_images(n=6)
    images[4] = images[1]  # exact copy
    images[5] = np.clip(images[2].astype(int) + 1, 0, 255)  # slightly brighter copy
    index, distance = neardup.nearest_neighbours(images)
    assert (index != np.arange(6)).all()
    assert index[1] == 4 and index[4] == 1 and distance[1] == 0 and distance[4] == 0
    assert index[2] == 5 and 0 < distance[2] <= 1


@pytest.mark.parametrize("chunk", [1, 3, 256])
def test_chunking_matches_brute_force(monkeypatch, chunk):
    monkeypatch.setattr(neardup, "_CHUNK", chunk)
    images = smooth_images(n=10, seed=5)
    index, distance = neardup.nearest_neighbours(images)
    expected_index, expected_distance = brute_force(images)
    np.testing.assert_array_equal(index, expected_index)
    np.testing.assert_allclose(distance, expected_distance)


def test_one_image_has_no_neighbour():
    with pytest.raises(ValueError, match="two"):
        neardup.nearest_neighbours(smooth_images(n=1))


def test_threshold_evidence_counts_exact_duplicates_apart():
    distances = np.array([0, 0, 0.1, 0.3, 0.3, 1.2, 2.0])
    evidence = neardup.threshold_evidence(distances, bin_width=0.25)
    assert evidence["exact"] == 2
    assert sum(evidence["counts"]) == 5
    assert evidence["counts"][:2] == [1, 2]
    assert len(evidence["edges"]) == len(evidence["counts"]) + 1
    assert evidence["smallest_nonzero"] == pytest.approx(0.1)
    assert evidence["quantiles"]["0.5"] == pytest.approx(0.3)


def test_perturbations_stay_small_next_to_distinct_scans():
    images = smooth_images(n=6, seed=6)
    result = neardup.perturbation_distances(images, n=4, seed=1)
    assert set(result) == {"jpeg_quality_50", "shift_1_pixel"}
    assert result["jpeg_quality_50"]["1.0"] < 5
    assert result["shift_1_pixel"]["0.5"] >= 0


def test_cross_split_flags_test_scans_copied_from_train():
    images = smooth_images(n=8, seed=7)
    images[5] = images[0]  # test copy of a train scan
    images[7] = np.clip(images[1].astype(int) + 1, 0, 255)  # val near-copy of a train scan
    split = np.array(["train", "train", "train", "train", "test", "test", "val", "val"])
    result = neardup.cross_split_near_duplicates(images, split, threshold=1.0)
    test = result["test"]
    assert result["threshold"] == 1.0
    assert test["n"] == 2 and test["count"] == 1 and test["fraction"] == 0.5
    assert test["index"].tolist() == [4, 5]
    assert test["has_near_duplicate"].tolist() == [False, True]
    assert test["nearest_train"][1] == 0 and test["distance"][1] == 0
    assert result["val"]["count"] == 1 and result["val"]["nearest_train"][1] == 1
    assert set(split[result["val"]["nearest_train"]]) == {"train"}


def test_cross_split_threshold_zero_counts_exact_copies_only():
    images = smooth_images(n=4, seed=8)
    images[3] = np.clip(images[0].astype(int) + 1, 0, 255)
    split = np.array(["train", "train", "val", "test"])
    assert neardup.cross_split_near_duplicates(images, split, threshold=0)["test"]["count"] == 0


def test_cross_split_rejects_bad_input():
    images = smooth_images(n=3)
    with pytest.raises(ValueError, match="split entries"):
        neardup.cross_split_near_duplicates(images, ["train", "test"])
    with pytest.raises(ValueError, match="train"):
        neardup.cross_split_near_duplicates(images, ["val", "test", "test"])


def test_has_train_twin_lines_up_with_the_split_order(tmp_path):
    """Same flags as mapping `cross_split_near_duplicates` positions back by name, as the notebook once did."""
    from types import SimpleNamespace

    from braintumor.data.splits import split_arrays, write_splits

    images = smooth_images(n=8, seed=9)
    images[6] = images[1]  # test scan copied from train
    images[2] = np.clip(images[4].astype(int) + 1, 0, 255)  # test near-copy of a train scan
    names = np.array([f"Image{k}" for k in (8, 3, 5, 1, 7, 2, 6, 4)])
    split = np.array(["train", "train", "test", "val", "train", "test", "test", "val"])
    dataset = SimpleNamespace(images=images, names=names, labels=np.zeros(8, dtype=int))
    splits_path = tmp_path / "splits.csv"
    write_splits(splits_path, names, dataset.labels, split)

    from_file = neardup.has_train_twin(dataset, which="test", threshold=1.0, splits_path=splits_path)
    given = neardup.has_train_twin(dataset, split, which="test", threshold=1.0)

    test_names = split_arrays(dataset, splits_path)["test"]["names"]
    cross = neardup.cross_split_near_duplicates(images, split, threshold=1.0)
    position = {name: k for k, name in enumerate(test_names)}
    expected = np.zeros(len(test_names), dtype=bool)
    expected[[position[names[k]] for k in cross["test"]["index"][cross["test"]["has_near_duplicate"]]]] = True
    assert expected.tolist() == [True, False, True]
    assert from_file.dtype == bool
    np.testing.assert_array_equal(from_file, expected)
    np.testing.assert_array_equal(given, expected)
    assert neardup.has_train_twin(dataset, split, which="val", threshold=1.0).tolist() == [False, False]
    with pytest.raises(ValueError, match="which"):
        neardup.has_train_twin(dataset, split, which="train")
