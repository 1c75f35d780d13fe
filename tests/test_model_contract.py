"""The model contract others rely on: builders, saving, and the committed artifacts."""

import json

import numpy as np
import pytest

from braintumor import config
from braintumor.evaluation.metrics import THRESHOLD_RULE
from braintumor.models.recipes import WEIGHTING_SETUP_NAMES
from braintumor.models.networks import (build_improved_cnn, build_reference_cnn, choose_improved, load_model,
                               predict_tumour_probability, save_for_inference, screen_summary)

REQUIRED_TEST_KEYS = {"n", "accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "confusion"}


@pytest.mark.parametrize("build", [
    lambda: build_reference_cnn(resolution=64),
    lambda: build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1),
    lambda: build_improved_cnn(resolution=64, widths=(8, 16), head="flatten", dense_units=(16,)),
    lambda: build_improved_cnn(resolution=240, widths=(8, 16), stem_stride=2, batch_norm=False),
])
def test_builders_take_raw_grey_scans_and_return_two_probabilities(build):
    model = build()
    assert tuple(model.input_shape) == (None, config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
    scans = np.random.default_rng(0).integers(0, 256, (3, 240, 240, 1)).astype(np.uint8)
    probabilities = model.predict(scans, verbose=0)
    assert probabilities.shape == (3, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_reference_cnn_is_the_original_notebooks_two_conv_network():
    model = build_reference_cnn(resolution=64)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Resizing", "Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
                     "Flatten", "Dense", "Dense", "Dense"]
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(32, (3, 3)), (64, (3, 3))]
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [d.units for d in dense] == [128, 64, 2]
    assert all(d.kernel_regularizer is not None for d in dense)


def test_flatten_head_keeps_the_spatial_map_and_stem_stride_halves_it():
    flatten = build_improved_cnn(resolution=64, widths=(8, 16), head="flatten", dense_units=(16,), augment=False)
    # 64 -> pool -> 32 -> pool -> 16: the last block is pooled too, then flattened (16 * 16 * 16 values).
    assert flatten.get_layer("flatten").output.shape[1:] == (16 * 16 * 16,)
    assert flatten.get_layer("dense16").units == 16
    strided = build_improved_cnn(resolution=64, widths=(8, 16), stem_stride=2, augment=False)
    assert strided.get_layer("block1_conv1").output.shape[1:3] == (32, 32)
    plain = build_improved_cnn(resolution=64, widths=(8, 16), batch_norm=False, augment=False)
    assert not [layer for layer in plain.layers if type(layer).__name__ == "BatchNormalization"]
    with pytest.raises(ValueError, match="head must be"):
        build_improved_cnn(head="attention")


def _search_row(name, val_accuracy, seconds):
    return {"name": name, "val_accuracy": val_accuracy, "seconds": seconds,
            "architecture": {"widths": [8, 16], "preprocess": "head_crop"},
            "recipe": {"max_epochs": 3, "start_from_epoch": 20}}


def test_choose_improved_takes_the_best_candidate_within_the_cpu_budget():
    rows = [_search_row("slow_but_best", 0.99, 700), _search_row("good", 0.96, 500), _search_row("tie_fast", 0.96, 400),
            _search_row("worse", 0.90, 100)]
    chosen = choose_improved(rows, max_training_seconds=600)
    assert chosen["name"] == "tie_fast"
    assert chosen["architecture"]["widths"] == (8, 16)  # lists from JSON become the builder's tuples
    with pytest.raises(ValueError, match="within 10 s"):
        choose_improved(rows, max_training_seconds=10)


def test_choose_improved_skips_recipes_whose_early_stopping_watches_too_soon():
    early = {**_search_row("stops_on_noise", 0.99, 300), "recipe": {"start_from_epoch": 8}}
    late = {**_search_row("watches_late", 0.97, 500), "recipe": {"start_from_epoch": 20}}
    assert choose_improved([early, late])["name"] == "watches_late"  # the improved recipe's own setting
    assert choose_improved([early, late], min_start_from_epoch=8)["name"] == "stops_on_noise"
    with pytest.raises(ValueError, match="from epoch 21 on"):
        choose_improved([early, late], min_start_from_epoch=21)


def test_choose_improved_ships_only_networks_that_crop_the_head():
    whole_picture = {**_search_row("reads_slice_size", 0.99, 300), "architecture": {"widths": [8]}}
    cropped = _search_row("head_crop", 0.98, 300)
    assert choose_improved([whole_picture, cropped])["name"] == "head_crop"
    assert choose_improved([whole_picture, cropped], preprocess=None)["name"] == "reads_slice_size"
    with pytest.raises(ValueError, match="preprocess 'head_crop'"):
        choose_improved([whole_picture])


def test_screen_summary_reads_the_history_as_early_stopping_would():
    rows = [
        # Lowest loss at epoch 2, but early stopping only watches from epoch 3 on.
        {"name": "a", "parameters": 10, "val_loss": [0.9, 0.1, 0.5, 0.3, 0.4], "val_accuracy": [0.5, 0.99, 0.8, 0.9, 0.85]},
        {"name": "b", "parameters": 20, "val_loss": [0.9, 0.8, 0.2, 0.6, 0.7], "val_accuracy": [0.5, 0.6, 0.95, 0.7, 0.7]},
    ]
    summary = screen_summary(rows, start_from_epoch=2)
    assert [line["name"] for line in summary] == ["b", "a"]
    assert (summary[0]["best_epoch"], summary[0]["val_accuracy"]) == (3, 0.95)
    assert (summary[1]["best_epoch"], summary[1]["val_accuracy"]) == (4, 0.9)
    assert summary[1]["val_accuracy_last5"] == pytest.approx(0.808)


def test_saved_model_round_trips_in_safe_mode_without_optimizer(tmp_path):
    model = build_improved_cnn(resolution=64, widths=(8, 16), convs_per_block=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    scans = np.full((2, 240, 240, 1), 128, dtype=np.uint8)
    model.fit(scans, np.array([0, 1]), verbose=0)  # the optimizer now holds state that must not be shipped
    path = tmp_path / "m.keras"
    save_for_inference(model, path)
    reloaded = load_model(path)
    assert np.allclose(predict_tumour_probability(reloaded, scans), predict_tumour_probability(model, scans), atol=1e-6)
    assert getattr(reloaded, "optimizer", None) is None
    assert not _weight_groups(path) & {"optimizer"}, "optimizer state was saved"


def _weight_groups(path) -> set[str]:
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
        return set(weights.keys())


def test_load_model_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "absent.keras")


@pytest.mark.skipif(not (config.REPO_ROOT / config.MODEL_PATH).is_file(), reason="no committed model yet")
def test_committed_model_honours_the_contract():
    path = config.REPO_ROOT / config.MODEL_PATH
    assert path.stat().st_size <= 5_000_000
    assert "optimizer" not in _weight_groups(path)
    model = load_model(path)
    assert tuple(model.input_shape) == (None, 240, 240, 1) and tuple(model.output_shape) == (None, 2)
    probabilities = model.predict(np.zeros((2, 240, 240, 1), dtype=np.uint8), verbose=0)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.skipif(not (config.REPO_ROOT / config.METRICS_PATH).is_file(), reason="no committed metrics yet")
def test_committed_metrics_have_the_agreed_keys():
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    assert REQUIRED_TEST_KEYS <= set(metrics["test"])
    assert set(metrics["test"]["confusion"]) == {"tn", "fp", "fn", "tp"}
    assert 0 < metrics["threshold"] <= 0.5
    assert {"resolution", "epochs_run", "seed", "versions"} <= set(metrics["training"])
    assert {"majority", "forest_csv_features", "forest_image_features", "reference_cnn", "improved_cnn"} <= set(metrics["models"])
    for entry in metrics["models"].values():
        assert REQUIRED_TEST_KEYS <= set(entry)


@pytest.mark.skipif(not all((config.REPO_ROOT / path).is_file() for path in (config.METRICS_PATH, config.CV_PATH)),
                    reason="no committed metrics or cross-validation yet")
def test_committed_metrics_and_cv_describe_the_search_winner():
    """A stale artifact is a bug: the shipped model, its cross-validation and the search agree."""
    rows = json.loads((config.REPO_ROOT / config.MODEL_DIR / "improved_search.json").read_text())["rows"]
    winner = choose_improved(rows)
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    cv = json.loads((config.REPO_ROOT / config.CV_PATH).read_text())
    assert metrics["training"]["search_choice"] == winner["name"] == cv["setup"]["candidate"]
    assert metrics["training"]["recipe"] == winner["recipe"] == cv["setup"]["recipe"]
    assert WEIGHTING_SETUP_NAMES[metrics["training"]["weighting"]] == cv["setup"].get("weighting")
    assert metrics["threshold_rule"] == THRESHOLD_RULE


def test_train_learns_a_separable_task_and_reports_the_restored_epoch():
    from braintumor.models.networks import train

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    scans = rng.integers(0, 60, size=(80, 240, 240, 1)).astype(np.uint8)
    scans[labels == 1, 100:140, 100:140] = 250  # a bright 'lesion' on every tumour scan
    model = build_improved_cnn(resolution=32, widths=(4, 8), augment=False)
    result = train(model, scans, labels, scans, labels, max_epochs=4, patience=10, batch_size=16,
                   learning_rate=1e-2, cosine_decay=True)
    assert result.epochs_run == 4 and len(result.history["val_loss"]) == 4
    assert 1 <= result.best_epoch <= 4
    assert result.history["val_loss"][result.best_epoch - 1] == min(result.history["val_loss"])
    assert result.seconds > 0 and result.config["max_epochs"] == 4
    assert result.history["accuracy"][-1] > 0.9  # it learnt the lesion, not a constant


def test_fit_networks_trains_each_member_of_a_seed_ensemble_from_its_own_seed():
    """The one fitting place (`training.fit_networks`, which `train` and the cross-validation's folds
    use): a configuration's networks with overrides, each member from the next seed."""
    from braintumor.models.networks import ensemble_members
    from braintumor.models.training import fit_networks

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 16)
    scans = rng.integers(0, 60, size=(32, 240, 240, 1)).astype(np.uint8)
    scans[labels == 1, 100:140, 100:140] = 250
    overrides = {"architecture": {"resolution": 32, "widths": (4, 8), "augment": False, "dense_units": ()},
                 "recipe": {"max_epochs": 2, "patience": 5, "batch_size": 16, "learning_rate": 1e-2,
                            "start_from_epoch": 0},
                 "training": {"members": 2}}
    model, fits = fit_networks("single-source", "full", scans, labels, scans, labels, overrides)
    first, second = ensemble_members(model)
    assert len(fits) == 2 and [fit.config["seed"] for fit in fits] == [config.TRAINING_SEED, config.TRAINING_SEED + 1]
    assert fits[0].config["max_epochs"] == 2  # the override, not the configuration's 30
    assert not np.allclose(first.get_weights()[0], second.get_weights()[0])  # different starts
    alone, [fit] = fit_networks("single-source", "full", scans, labels, scans, labels,
                                {**overrides, "training": {"members": 1}})
    assert ensemble_members(alone) == [alone] and fit.config["seed"] == config.TRAINING_SEED


def test_committed_two_source_model_is_the_picked_study_row_and_predict_defaults_as_metrics_say():
    """The two-source model, its study and the default `predict` uses agree (a stale artifact is a bug)."""
    from braintumor.models import specs as model_specs
    from braintumor.predict import default_threshold

    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    study = model_specs.read_study(config.REPO_ROOT / model_specs.STUDY_PATH)
    two = metrics["two_source"]
    assert two["study_row"] == model_specs.pick_two_source(study["rows"])["name"] == study["picked"]
    assert all("held_out" in row for row in study["rows"])  # every row was scored, the pick's rule came first
    assert metrics["default_model"]["name"] in model_specs.SPECS  # the rule in force: tests/test_roles.py
    spec = model_specs.SPECS["two-source"]
    path = config.REPO_ROOT / spec.file
    # the record keeps the file's name of its time (model/braintumor_two_source.keras, before the model folders)
    assert path.stat().st_size <= 5_000_000 and spec.file == config.MODEL_DIR / "studies" / "two-source" / "model.keras"
    assert default_threshold(path) == (two["threshold"], None)
    assert default_threshold(config.REPO_ROOT / config.MODEL_PATH) == (metrics["threshold"], None)
    model = load_model(path)
    assert tuple(model.input_shape) == (None, 240, 240, 1) and tuple(model.output_shape) == (None, 2)


def test_every_committed_model_file_carries_its_threshold_and_input_check_for_predict():
    from braintumor.models import specs as model_specs
    from braintumor.predict import input_check_rule

    for spec in model_specs.SPECS.values():
        entry = json.loads((config.REPO_ROOT / spec.file).with_name("card.json").read_text())
        assert entry["name"] == spec.name and 0 < entry["threshold"] < 1  # pooled thresholds may pass 0.5
        rule, note = input_check_rule(config.REPO_ROOT / spec.file)
        assert rule is not None and note is None, spec.name


def test_flip_averaged_probability_is_the_mean_over_the_scan_and_its_mirror_image():
    from braintumor.models.networks import flip_averaged_probability

    model = build_improved_cnn(resolution=32, widths=(4, 8), augment=False, seed=3)
    rng = np.random.default_rng(1)
    scans = rng.integers(0, 255, size=(4, 240, 240, 1)).astype(np.uint8)
    plain = model.predict(scans, verbose=0)[:, 1]
    mirrored = model.predict(scans[:, :, ::-1], verbose=0)[:, 1]
    assert not np.allclose(plain, mirrored)  # the network itself is not mirror-symmetric
    averaged = flip_averaged_probability(model, scans)
    np.testing.assert_allclose(averaged, (plain + mirrored) / 2, atol=1e-6)
    np.testing.assert_allclose(flip_averaged_probability(model, scans, plain=plain), averaged, atol=1e-6)
    # A scan that is its own mirror image keeps its probability.
    symmetric = np.concatenate([scans[:, :, :120], scans[:, :, :120][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(flip_averaged_probability(model, symmetric),
                               model.predict(symmetric, verbose=0)[:, 1], atol=1e-6)


def test_flip_average_rule_needs_a_matched_auc_gain_and_no_accuracy_loss():
    from braintumor.models.recipes import FLIP_AVERAGE_MIN_GAIN, flip_average_wins

    def record(auc_gain, accuracy_change=0.0, matched_accuracy_change=0.0):
        base = {"roc_auc": 0.990, "fold_accuracy_mean": 0.97, "fold_matched_accuracy_mean": 0.95}
        flipped = {"roc_auc": 0.990 + auc_gain, "fold_accuracy_mean": 0.97 + accuracy_change,
                   "fold_matched_accuracy_mean": 0.95 + matched_accuracy_change}
        return {"matched_pairs": {"plain": base, "flip_average": flipped}}

    assert flip_average_wins(record(FLIP_AVERAGE_MIN_GAIN + 1e-4))
    assert not flip_average_wins(record(FLIP_AVERAGE_MIN_GAIN / 2))
    assert not flip_average_wins(record(0.004, accuracy_change=-0.001))
    assert not flip_average_wins(record(0.004, matched_accuracy_change=-0.001))


def test_seed_ensemble_rule_needs_a_matched_auc_gain_and_at_most_a_small_accuracy_loss():
    from braintumor.models.recipes import (SEED_ENSEMBLE_MAX_ACCURACY_LOSS, SEED_ENSEMBLE_MIN_GAIN,
                                             seed_ensemble_wins)

    def record(auc_gain, accuracy_change=0.0):
        single = {"roc_auc": 0.990, "fold_accuracy_mean": 0.97}
        ensemble = {"roc_auc": 0.990 + auc_gain, "fold_accuracy_mean": 0.97 + accuracy_change}
        return {"matched_pairs": {"plain": single, "seed_ensemble": ensemble}}

    assert seed_ensemble_wins(record(SEED_ENSEMBLE_MIN_GAIN + 1e-4))
    assert seed_ensemble_wins(record(0.004, accuracy_change=-SEED_ENSEMBLE_MAX_ACCURACY_LOSS / 2))
    assert not seed_ensemble_wins(record(SEED_ENSEMBLE_MIN_GAIN / 2))
    assert not seed_ensemble_wins(record(0.004, accuracy_change=-2 * SEED_ENSEMBLE_MAX_ACCURACY_LOSS))


def test_a_seed_ensemble_starts_from_the_single_networks_seed():
    from braintumor.models.recipes import member_seeds

    assert member_seeds(1) == [config.TRAINING_SEED]
    assert member_seeds(3) == [config.TRAINING_SEED, config.TRAINING_SEED + 1, config.TRAINING_SEED + 2]
    with pytest.raises(ValueError, match="at least one member"):
        member_seeds(0)


@pytest.mark.skipif(not (config.REPO_ROOT / config.METRICS_PATH).is_file(), reason="no committed metrics yet")
def test_committed_matched_cross_validation_figures_are_those_of_the_committed_cross_validations():
    """metrics.json quotes the cross-validations' matched pairs; a rerun of `make cv` without a new run of the
    notebooks would leave it stale."""
    from braintumor.evaluation.records import cross_validated_matched, read_cv_records

    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    runs = read_cv_records(config.REPO_ROOT / config.MODEL_DIR)
    expected = json.loads(json.dumps(cross_validated_matched(runs)))
    assert metrics["head_matching"].get("cross_validation", {}) == expected
    assert "train_val" in expected, "the committed cross-validation over train+val lacks its matched pairs: make cv"


def test_head_area_weighting_rule_needs_a_matched_auc_gain_within_an_accuracy_budget():
    from braintumor.models.recipes import (HEAD_AREA_WEIGHTING_MAX_ACCURACY_LOSS, HEAD_AREA_WEIGHTING_MIN_GAIN,
                                             head_area_weighting_wins)

    def record(auc, accuracy):
        return {"matched_pairs": {"plain": {"roc_auc": auc, "fold_accuracy_mean": accuracy}}}

    base = record(0.990, 0.978)
    assert head_area_weighting_wins(base, record(0.990 + HEAD_AREA_WEIGHTING_MIN_GAIN, 0.978))
    assert not head_area_weighting_wins(base, record(0.990 + HEAD_AREA_WEIGHTING_MIN_GAIN / 2, 0.99))
    assert not head_area_weighting_wins(base, record(0.999, 0.978 - 2 * HEAD_AREA_WEIGHTING_MAX_ACCURACY_LOSS))



def test_shipped_weighting_is_what_its_rule_reads_in_the_committed_cross_validations():
    from braintumor.evaluation.records import cross_validated_matched, read_cv_records
    from braintumor.models.recipes import SHIPPED_WEIGHTING, WEIGHTING_SETUP_NAMES

    runs = {pool: cv for pool, cv in read_cv_records(config.REPO_ROOT / config.MODEL_DIR).items()
            if pool.startswith("train_val")}
    decision = cross_validated_matched(runs)["decisions"]["head_area_weighting"]
    assert SHIPPED_WEIGHTING == ("head_area" if decision["ships"] else "none")
    # make cv reproduces the shipped recipe's record: its weighting is the shipped one.
    assert runs["train_val"]["setup"].get("weighting") == WEIGHTING_SETUP_NAMES[SHIPPED_WEIGHTING]


def test_shipped_members_are_what_the_seed_ensemble_rule_reads_and_what_the_headline_cross_validations_ran():
    from braintumor.evaluation.records import cross_validated_matched, read_cv_records
    from braintumor.models.recipes import SHIPPED_MEMBERS

    runs = read_cv_records(config.REPO_ROOT / config.MODEL_DIR)
    decision = cross_validated_matched(runs)["decisions"].get("seed_ensemble")
    if decision is None:  # the rule has not been read yet: one network
        assert SHIPPED_MEMBERS == 1
    else:
        assert SHIPPED_MEMBERS == (decision["members"] if decision["ships"] else 1)
    # make cv and make cv-all rerun the shipped model: as many networks per fold as it has.
    for pool in ("train_val", "all_scans"):
        assert runs[pool]["setup"].get("members", 1) == SHIPPED_MEMBERS, pool


def test_a_seed_ensemble_is_one_model_whose_probability_is_its_members_mean_and_saves_safely(tmp_path):
    from braintumor.models.networks import ensemble_members, seed_ensemble

    members = [build_improved_cnn(resolution=32, widths=(4, 8), head="flatten", dense_units=(8,), augment=False,
                                  preprocess="head_crop", seed=seed) for seed in (1, 2)]
    scans = np.random.default_rng(0).integers(0, 256, (4, 240, 240, 1)).astype(np.uint8)
    expected = np.mean([predict_tumour_probability(member, scans) for member in members], axis=0)
    ensemble = seed_ensemble(members)
    assert tuple(ensemble.input_shape) == (None, config.IMAGE_SIZE, config.IMAGE_SIZE, 1)
    assert [member.name for member in ensemble_members(ensemble)] == ["member_1", "member_2"]
    np.testing.assert_allclose(predict_tumour_probability(ensemble, scans), expected, atol=1e-6)
    path = tmp_path / "ensemble.keras"
    save_for_inference(ensemble, path)
    reloaded = load_model(path)
    assert len(ensemble_members(reloaded)) == 2
    np.testing.assert_allclose(predict_tumour_probability(reloaded, scans), expected, atol=1e-5)
    # One network is its own ensemble: nothing is wrapped around it.
    assert seed_ensemble(members[:1]) is members[0] and ensemble_members(members[0]) == [members[0]]
    with pytest.raises(ValueError, match="at least one"):
        seed_ensemble([])
