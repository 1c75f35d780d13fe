"""The new-scans study's driver (braintumor/studies/new_scans/) and the shared row loop
(braintumor/studies/base.py): which rows, what each variant changes, the weights and the
gated augmentation it trains with, and that a stopped study resumes. No real data needed."""

import json

import numpy as np
import pytest

from braintumor import config

from braintumor.studies import site as site_study
from braintumor.studies.new_scans import rule as new_scans
from braintumor.studies import base
from braintumor.studies.new_scans import rows as study
from braintumor.studies.new_scans import variants


def test_rows_cover_every_variant_seed_and_site_seed_by_seed():
    rows = study.rows_to_run()
    names = [name for name, _ in rows]
    assert len(set(names)) == len(names) == len(new_scans.VARIANTS) * len(new_scans.SEEDS) * len(site_study.HELD_OUT_SITES)
    seeds = [spec["seed"] for _, spec in rows]
    first = len(rows) // len(new_scans.SEEDS)
    # A stopped run holds every variant under the first seed before any row of the second.
    assert set(seeds[:first]) == {new_scans.SEEDS[0]} and new_scans.SEEDS[0] not in seeds[first:]


@pytest.mark.parametrize("variant, changed", [("wider", {"widths"}), ("photometric_lgg_only", {"photometric"}),
                                              ("head_area_weighted", set())])
def test_each_variant_changes_one_thing_of_the_a_lgg_configuration(variant, changed):
    from braintumor.models import configs

    reference, architecture = configs.architecture("a-lgg"), variants.variant_architecture(variant)
    assert {key for key in reference if reference[key] != architecture[key]} == changed
    if variant == "wider":
        assert list(architecture["widths"]) == variants.WIDER_WIDTHS != list(reference["widths"])


def test_an_unknown_variant_is_refused():
    with pytest.raises(KeyError, match="unknown variant 'deeper'"):
        variants.variant_architecture("deeper")


def _part(rng, n_main=120, n_other=80):
    images = np.zeros((n_main + n_other, 240, 240, 1), np.uint8)
    labels = np.r_[rng.integers(0, 2, n_main), rng.integers(0, 2, n_other)]
    for i, label in enumerate(labels):  # tumour scans have larger heads: the shortcut to weigh away
        radius = 60 + 30 * label + rng.integers(-15, 15)
        yy, xx = np.ogrid[:240, :240]
        images[i, ((yy - 120) ** 2 + (xx - 120) ** 2) < radius ** 2, 0] = 120
    return {"images": images, "labels": labels, "source": np.r_[np.zeros(n_main, int), np.ones(n_other, int)]}


def test_head_area_weighting_changes_the_main_source_only_and_keeps_its_total():
    from braintumor.data.sources import balanced_weights

    rng = np.random.default_rng(0)
    train_part, val_part = _part(rng), _part(rng, 60, 40)
    from braintumor.evaluation.shortcut import pooled_training_weights

    plain = pooled_training_weights(train_part, val_part)
    weighted = pooled_training_weights(train_part, val_part, head_area_source=0)
    assert np.allclose(plain["sample_weight"], balanced_weights(train_part["labels"], train_part["source"]))
    main = train_part["source"] == 0
    assert np.allclose(weighted["sample_weight"][~main], plain["sample_weight"][~main])
    assert not np.allclose(weighted["sample_weight"][main], plain["sample_weight"][main])
    assert weighted["sample_weight"][main].sum() == pytest.approx(main.sum())  # A keeps its weight in the pool


def test_the_gated_augmentation_acts_where_the_gate_is_one_and_the_saved_network_takes_raw_scans():
    from braintumor.models.networks import build_improved_cnn
    from braintumor.models.per_source import GATE_INPUT, with_gated_photometric

    model = build_improved_cnn(**{**variants.variant_architecture("photometric_lgg_only"), "resolution": 32,
                                  "widths": (4, 8)}, seed=1)
    gated = with_gated_photometric(model, seed=1)
    layer = gated.get_layer("augment_intensity_gated")
    x = np.random.default_rng(0).uniform(0.5, 1.5, (4, 32, 32, 1)).astype("float32")
    gate = np.array([[0], [1], [0], [1]], "float32")
    out = np.asarray(layer([x, gate], training=True))
    assert np.allclose(out[[0, 2]], x[[0, 2]]) and not np.allclose(out[[1, 3]], x[[1, 3]])
    assert np.allclose(np.asarray(layer([x, gate], training=False)), x)
    assert sorted(tensor.name.split(":")[0] for tensor in gated.inputs) == sorted(["scan", GATE_INPUT])
    assert len(model.inputs) == 1 and not any("intensity" in lay.name for lay in model.layers)
    # Training the gated network trains the saved one: the layers are shared.
    assert {id(w) for w in model.weights} <= {id(w) for w in gated.weights}


def test_a_model_with_its_own_photometric_layer_is_refused():
    from braintumor.models.networks import build_improved_cnn
    from braintumor.models.per_source import with_gated_photometric

    model = build_improved_cnn(resolution=32, widths=(4, 8), preprocess="head_crop", photometric=True, seed=1)
    with pytest.raises(ValueError, match="already holds a photometric layer"):
        with_gated_photometric(model, seed=1)


def test_the_row_loop_resumes_and_records_rows_per_second(tmp_path, monkeypatch):
    path = tmp_path / "study.json"
    calls = []

    def train_row(spec):
        calls.append(spec["n"])
        if spec["n"] == 3:
            raise RuntimeError("stopped")
        return {"figure": spec["n"] / 10, "rows_trained": 1000, "train_seconds": 10.0}

    todo = [(f"row{n}", {"n": n}) for n in range(1, 5)]
    monkeypatch.setattr("braintumor.models.networks.library_versions", lambda: {"tensorflow": "x"}, raising=False)
    with pytest.raises(RuntimeError):
        base.run_rows(path, todo, train_row, what="a test")
    record = json.loads(path.read_text())
    assert [row["name"] for row in record["rows"]] == ["row1", "row2"]
    assert record["rows"][0]["rows_per_second"] == 100.0 and record["what"] == "a test"
    calls.clear()
    todo[2] = ("row3", {"n": 30})
    base.run_rows(path, todo, train_row, what="a test")
    assert calls == [30, 4]  # the finished rows are skipped
    assert [row["name"] for row in json.loads(path.read_text())["rows"]] == ["row1", "row2", "row3", "row4"]


def test_the_row_loop_starts_no_row_past_its_minutes(tmp_path, monkeypatch):
    monkeypatch.setattr("braintumor.models.networks.library_versions", lambda: {}, raising=False)
    record = base.run_rows(tmp_path / "s.json", [("a", {}), ("b", {})],
                           lambda spec: {"rows_trained": 1, "train_seconds": 1.0}, minutes=0)
    assert record["rows"] == []


def test_the_study_runs_from_the_package_command_line(tmp_path):
    from braintumor.cli import main

    with pytest.raises(SystemExit, match="cannot apply new_scans_default yet"):
        main(["study", "new-scans", "pick", "--record", str(tmp_path / "new_scans_study.json")])
    with pytest.raises(SystemExit):
        main(["study", "no-such-study", "train"])


def test_score_once_keeps_one_look_and_refuses_a_second(tmp_path):
    path = tmp_path / "record.json"
    base.write_record(path, {"rows": []})
    calls = []
    from braintumor.studies import held_out

    record = held_out.score_once(path, lambda: calls.append(1) or {"scores": {"outside": {"roc_auc": 0.9}}}, "the model",
                             ["outside"])
    assert record["scores"] == {"outside": {"roc_auc": 0.9}} and len(record["looks"]) == 1
    assert record["looks"][0]["sets"] == ["outside"] and record["looks"][0]["machine"]
    with pytest.raises(SystemExit, match="scored already.*another look"):
        held_out.score_once(path, lambda: calls.append(2) or {}, "the model", ["outside"])
    assert calls == [1] and len(base.read_record(path)["looks"]) == 1  # nothing computed or written the second time


def test_final_trains_only_the_configuration_written_for_the_pick(tmp_path):
    import shutil

    from braintumor.models import configs
    from braintumor.studies.new_scans import model as last

    with pytest.raises(SystemExit, match="kept the single-source model"):
        last.final_config({"outcome": "no variant qualified", "default_model": new_scans.SINGLE_SOURCE}, tmp_path)
    pick = {"outcome": "wider", "default_model": "wider"}
    with pytest.raises(SystemExit, match="write model/new-scans/config.toml for the pick"):
        last.final_config(pick, tmp_path)
    models = tmp_path / "model"
    (models / "new-scans").mkdir(parents=True)
    written = (config.REPO_ROOT / configs.model_dir("a-lgg") / "config.toml").read_text().replace('name = "a-lgg"', 'name = "new-scans"')
    (models / "new-scans" / "config.toml").write_text(written.replace('candidate = "photometric"', 'candidate = "wider"'))
    assert last.final_config(pick, models)["candidate"] == "wider"
    with pytest.raises(SystemExit, match="describes 'wider', but new_scans_default picked 'head_area_weighted'"):
        last.final_config({"outcome": "head_area_weighted", "default_model": "head_area_weighted"}, models)
    with pytest.raises(SystemExit, match="run .* pick. first"):
        last.final({"rows": []}, None, None)


def test_scores_split_by_the_input_warning_and_skip_a_one_class_part():
    from braintumor.evaluation.analysis import figures_by_warning

    labels = np.array([0, 1, 0, 1, 1, 1])
    probability = np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.7])
    warned = np.array([False, False, False, False, True, True])
    parts = figures_by_warning(labels, probability, 0.5, warned, base.figures)
    assert parts["unwarned"]["n"] == 4 and parts["unwarned"]["roc_auc"] == 1.0
    assert parts["warned"] == {"n": 2, "tumours": 2}  # one class only: no ROC AUC
    plain = figures_by_warning(labels, probability, 0.5, warned)  # metrics.binary_metrics by default
    assert plain["unwarned"]["roc_auc"] == 1.0 and "confusion" in plain["unwarned"]


def test_the_metrics_entry_waits_for_the_final_model_and_carries_what_predict_reads():
    from braintumor.studies.new_scans.model import model_entry

    assert model_entry(None) is None and model_entry({"rows": []}) is None
    final = {"model_file": "model/new-scans/model.keras", "variant": "wider", "threshold": 0.42,
             "input_check": {"bounds": {}}, "validation": {}}
    entry = model_entry({"rows": [], "final": final})
    assert entry["threshold"] == 0.42 and entry["input_check"] == {"bounds": {}} and entry["scores"] is None
    assert entry["spec"] == "new-scans" and entry["model_file"].endswith(".keras")


def test_score_reads_each_scan_after_the_folders_brain_extraction_as_predict_does(monkeypatch):
    """`score` (the one look at held-out rows) gives the network the scans its folder's
    `[preprocessing] brain_extraction` makes, as `predict` does; the input check reads them as
    given. A scalp ring around a dark gap must reach the network blacked out."""
    import braintumor.evaluation.shipped as shipped
    import braintumor.models.networks as networks
    from braintumor.studies.new_scans import model as last

    rows, cols = np.mgrid[:240, :240]
    distance = np.hypot(rows - 120, cols - 120)
    grey = np.select([distance <= 70, distance <= 80, distance <= 90], [110, 30, 200], 0).astype(np.uint8)
    grey = np.clip(grey + np.random.default_rng(0).normal(0, 4, grey.shape), 0, 255).astype(np.uint8) * (distance <= 90)
    images = np.stack([grey, grey, grey, grey])[..., None].astype(np.uint8)
    labels = np.array([0, 1, 0, 1])
    seen = []

    def probability(model, given):
        seen.append(np.array(given))
        return np.array([0.2, 0.8, 0.3, 0.7])

    monkeypatch.setattr(networks, "load_model", lambda path: "network")
    monkeypatch.setattr(last.base, "weights_digest", lambda model: "digest")
    monkeypatch.setattr(last.base, "probability", probability)
    monkeypatch.setattr(shipped, "preprocessing_of", lambda name: "classical-v1")

    class LGG:
        def part(self, name):
            return {"images": images, "labels": labels, "names": np.array([f"TCGA_CS_4941_19960909/{k}" for k in range(4)])}

    record = {"final": {"threshold": 0.5, "input_check": {"bounds": {"head_grey": [0.0, 255.0]}}}}
    scores = last.score(record, {"lgg_test": (images, labels, False)}, LGG())

    ring = (distance > 80) & (distance <= 90)
    assert scores["brain_extraction"] == "classical-v1" and len(seen) == 2
    assert all((given[:, ring] == 0).all() for given in seen), "the scalp reached the network"
    assert (images[:, ring] > 0).mean() > 0.99  # the input itself is not changed
    assert scores["lgg_test"]["roc_auc"] == 1.0 and set(scores["lgg_test_by_site"]) == {"CS"}
