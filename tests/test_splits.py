"""Properties of the grouped, stratified train/validation/test split."""

import numpy as np
import pytest

from braintumor.data.dataset import DataError
from braintumor.data.splits import group_ids, grouped_stratified_split, read_splits, split_masks, write_splits


@pytest.fixture
def population():
    rng = np.random.default_rng(1)
    n = 1000
    labels = (rng.random(n) < 0.45).astype(int)
    names = np.array([f"Image{k}" for k in range(1, n + 1)])
    # 40 duplicate groups of 2-3 same-label images, like the real data
    groups, used = [], set()
    for label in (0, 1):
        members = [k for k in range(n) if labels[k] == label]
        for start in range(0, 60, 3):
            group = [str(names[members[start + j]]) for j in range(2 + start % 2)]
            groups.append(group)
            used.update(group)
    return names, labels, groups


def test_fractions_are_about_64_16_20_within_each_class(population):
    names, labels, groups = population
    split = grouped_stratified_split(labels, group_ids(names, groups), seed=3)
    for label in (0, 1):
        in_class = labels == label
        shares = {s: np.mean(split[in_class] == s) for s in ("train", "val", "test")}
        assert shares["test"] == pytest.approx(0.20, abs=0.01)
        assert shares["val"] == pytest.approx(0.16, abs=0.01)
        assert shares["train"] == pytest.approx(0.64, abs=0.02)


def test_duplicate_groups_never_straddle_splits(population):
    names, labels, groups = population
    split = grouped_stratified_split(labels, group_ids(names, groups), seed=3)
    index = {name: i for i, name in enumerate(names)}
    for group in groups:
        assert len({split[index[name]] for name in group}) == 1


def test_same_seed_same_split_other_seed_other_split(population):
    names, labels, groups = population
    ids = group_ids(names, groups)
    first = grouped_stratified_split(labels, ids, seed=3)
    assert np.array_equal(first, grouped_stratified_split(labels, ids, seed=3))
    assert not np.array_equal(first, grouped_stratified_split(labels, ids, seed=4))


def test_split_file_round_trip_and_missing_rows(tmp_path, population):
    names, labels, groups = population
    split = grouped_stratified_split(labels, group_ids(names, groups))
    path = tmp_path / "splits.csv"
    write_splits(path, names, labels, split)
    assert path.read_text().splitlines()[0] == "image,label,split"
    assert read_splits(path)[str(names[0])] == split[0]
    masks = split_masks(names, path)
    assert sum(mask.sum() for mask in masks.values()) == len(names)
    with pytest.raises(DataError, match="no row for image 'Extra1'") as error:
        split_masks(np.append(names, "Extra1"), path)
    assert str(path) in str(error.value) and "1 missing" in str(error.value)
    assert "python -m braintumor prepare" in str(error.value)


def test_a_check_pass_takes_evenly_spaced_rows_and_a_full_pass_every_row():
    from braintumor.data.splits import CHECK_PASS_ROWS, evenly_spaced, pass_rows

    assert pass_rows(753, "full").tolist() == list(range(753))
    check = pass_rows(753, "check")
    assert len(check) == CHECK_PASS_ROWS and check[0] == 0 and check[-1] == 752 and (np.diff(check) > 0).all()
    assert pass_rows(150, "check").tolist() == list(range(150))  # a set smaller than the sample: whole
    assert evenly_spaced(10, 3).tolist() == [0, 4, 9] and evenly_spaced(0, 3).tolist() == []
    with pytest.raises(ValueError, match="unknown schedule"):
        pass_rows(10, "quick")
