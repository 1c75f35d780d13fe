"""The study layer's command line and the source, cross-validation, search and resolution
studies: each runs as `python -m braintumor study NAME STEP`, reads its setting from the
configurations, trains a row through `models.training.train`, and keeps the committed records
readable (a rerun of the committed setup resumes them rather than starting over)."""

import argparse
import json
import re
import shutil
from importlib import import_module

import numpy as np
import pytest

from braintumor import config
from braintumor.data.sources import Source
from braintumor.models import recipes
from braintumor.studies import STUDIES, base
from braintumor.studies import source as source_study
from braintumor.studies.cv import folds, steps as cv_steps

MAKEFILE = (config.REPO_ROOT / "Makefile").read_text()
TINY = {"architecture": {"widths": [4, 4, 4, 4, 4], "dense_units": [4]},
        "recipe": {"max_epochs": 1, "start_from_epoch": 1, "batch_size": 16}}


def _source(name, per_split=(16, 8, 4), seed=0):
    rng = np.random.default_rng(seed)
    split = np.repeat(["train", "val", "test"], per_split)
    labels = np.tile([0, 1], len(split) // 2 + 1)[:len(split)]
    images = rng.integers(0, 255, (len(split), config.IMAGE_SIZE, config.IMAGE_SIZE, 1), dtype=np.uint8)
    return Source(name=name, images=images, labels=labels, names=np.array([f"{name}{k}" for k in range(len(split))]),
                  groups=np.arange(len(split)), split=split)


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_has_a_command_line_and_a_make_target(name, capsys):
    with pytest.raises(SystemExit) as done:
        import_module(f"braintumor.studies.{STUDIES[name]}").main(["-h"])
    assert done.value.code == 0 and f"python -m braintumor study {name}" in capsys.readouterr().out
    assert re.search(rf"-m braintumor study {name} \w+", MAKEFILE) or name == "search", f"no Makefile target runs {name}"


def test_no_script_is_left_for_a_study():
    scripts = {path.stem for path in (config.REPO_ROOT / "scripts").glob("*.py")}
    moved = {"source_study", "cross_validate", "resolution_study", "improved_search", "loso_study", "site_study"}
    assert not scripts & moved and "scripts/" not in " ".join(re.findall(r"study\S*:.*\n(?:\t.*\n)+", MAKEFILE))


def _cv_args(**changes):
    defaults = {"candidate": None, "pool": "trainval", "weighting": recipes.SHIPPED_WEIGHTING,
                "members": recipes.SHIPPED_MEMBERS, "out": None}
    return argparse.Namespace(**{**defaults, **changes})


@pytest.mark.parametrize("pool, record", [("trainval", "cv_results.json"), ("all", "cv_all_scans.json")])
def test_the_cross_validation_reads_the_configuration_its_committed_record_was_made_with(pool, record):
    committed = json.loads((config.REPO_ROOT / config.MODEL_DIR / record).read_text())
    assert json.loads(json.dumps(cv_steps.setup_of(_cv_args(pool=pool)))) == committed["setup"]


def test_a_cross_validation_of_an_unknown_candidate_names_the_known_ones():
    with pytest.raises(SystemExit, match="no candidate named 'nope'.*known: .*g1_128_flatten_headcrop"):
        cv_steps.setup_of(_cv_args(candidate="nope"))


def test_the_inner_split_stays_inside_the_training_part_and_keeps_groups_whole():
    groups = np.repeat(np.arange(40), 3)  # copies: three scans of one group share its label
    labels = groups % 2
    train_part = np.arange(90)
    fit, stop = folds.inner_split(labels, groups, train_part, fold=0)
    assert set(fit) | set(stop) == set(train_part) and not set(fit) & set(stop)
    assert not set(groups[fit]) & set(groups[stop])
    assert 0.1 < len(stop) / len(train_part) < 0.3


def test_a_fold_scores_each_variant_at_a_threshold_from_its_early_stopping_rows():
    from braintumor.models.networks import TrainResult

    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 50)
    head_area = np.repeat(rng.uniform(1000, 5000, 50), 2)  # each healthy scan beside a tumour of its head size
    stop, held = np.arange(0, 30), np.arange(30, 100)
    perfect = y.astype(float) * 0.8 + 0.1
    fits = [TrainResult(history={}, epochs_run=5, best_epoch=3, seconds=2.0, seconds_per_epoch=0.4)]
    scores = {"plain": (perfect[stop], perfect[held]), "flip_average": (perfect[stop], 1 - perfect[held])}
    entries = folds.cnn_entries(scores, fits, y, head_area, stop, held, fold=1)
    assert set(entries) == {"improved_cnn", "improved_cnn_flip_average"}
    assert entries["improved_cnn"]["accuracy"] == 1.0 and entries["improved_cnn_flip_average"]["accuracy"] == 0.0
    assert entries["improved_cnn"]["fold"] == 2 and entries["improved_cnn"]["train_seconds"] == 2.0
    assert set(entries["improved_cnn"]["matched"]) == set(folds.MATCHED_KEPT)
    features = np.c_[y + rng.normal(0, 0.1, 100), rng.normal(size=100)]
    forest = folds.forest_entry(features, y, np.arange(60), np.arange(60, 100), fold=0)
    assert forest["accuracy"] > 0.9 and forest["n"] == 40


def test_a_source_study_row_trains_as_configured_and_a_committed_model_row_trains_nothing(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    monkeypatch.setattr(source_study, "MODELS", tmp_path / "models")
    by_name = {"brain-tumor": _source("brain-tumor", seed=1), "extra": _source("extra", seed=2)}
    record = tmp_path / "source_study.json"
    trained = {"name": "AB_tiny", "sources": ["brain-tumor", "extra"], **TINY}
    base.run_rows(record, [("AB_tiny", trained)], lambda spec: source_study.train_row(spec, by_name))
    row = base.read_record(record)["rows"][0]
    assert row["architecture"]["widths"] == [4, 4, 4, 4, 4] and row["architecture"]["preprocess"] == "head_crop"
    assert row["recipe"]["max_epochs"] == 1 and row["recipe"]["learning_rate"] == 0.001  # the rest: single-source's
    assert row["epochs_run"] == 1 and row["rows_per_second"] > 0 and row["validation"]["extra"]["n"] == 8
    scored = {"name": "A_committed", "sources": ["brain-tumor"], "model_file": row["model_file"]}
    base.run_rows(record, [("A_committed", scored)], lambda spec: source_study.train_row(spec, by_name))
    committed_row = base.read_record(record)["rows"][1]
    assert committed_row["epochs_run"] is None and committed_row["rows_per_second"] is None
    assert source_study.pick_two_source(base.read_record(record)["rows"])["name"] == "AB_tiny"


def test_the_source_study_refuses_a_second_look_before_reading_any_data(tmp_path, monkeypatch):
    from braintumor.cli import main

    committed = config.REPO_ROOT / config.MODEL_DIR / "source_study.json"
    record = tmp_path / "source_study.json"
    shutil.copy(committed, record)
    monkeypatch.delenv("BRAIN_TUMOR_EXTERNAL", raising=False)
    with pytest.raises(SystemExit, match="scored already.*another look"):
        main(["study", "source", "score", "--record", str(record)])
    assert record.read_bytes() == committed.read_bytes()


def test_the_committed_source_rows_are_the_committed_records_rows():
    rows = json.loads(source_study.ROWS.read_text())
    recorded = {row["name"]: row for row in json.loads(source_study.STUDY_PATH.read_text())["rows"]}
    assert [row["name"] for row in rows] == list(recorded)
    for row in rows:
        assert row["sources"] == recorded[row["name"]]["sources"]
        assert {**recorded[row["name"]]["architecture"], **row["architecture"]} == recorded[row["name"]]["architecture"]


def test_a_search_row_is_the_configuration_with_its_overrides(tmp_path):
    pytest.importorskip("tensorflow")
    from braintumor.evaluation.shortcut import head_size_matched_pairs, slice_cues
    from braintumor.studies import search

    a = _source("brain-tumor", seed=3)
    val = a.part("val")
    area = slice_cues(val["images"])["head_area"].to_numpy()
    record = tmp_path / "improved_search.json"
    base.run_rows(record, [("tiny", {"name": "tiny", **TINY})],
                  lambda spec: search.train_row(spec, a, (head_size_matched_pairs(area, val["labels"]), area)))
    row = base.read_record(record)["rows"][0]
    assert row["architecture"]["dense_units"] == [4] and row["recipe"]["cosine_decay"] is True
    assert len(row["val_accuracy_by_epoch"]) == row["epochs_run"] == 1 and row["rows_per_second"] > 0


def test_a_resolution_row_builds_the_network_at_that_size(monkeypatch):
    pytest.importorskip("tensorflow")
    from braintumor.studies import resolution

    monkeypatch.setitem(recipes.RECIPES, "reference", {**recipes.RECIPES["reference"], "max_epochs": 1})
    a = _source("brain-tumor", seed=4)
    small, large = (resolution.row("reference", side, a.part("train"), a.part("val")) for side in (32, 48))
    assert small["resolution"] == 32 and small["epochs_run"] == 1 and small["rows_per_second"] > 0
    assert large["parameters"] > small["parameters"]  # the dense layer grows with the square of the side


def test_a_studys_final_model_is_trained_saved_with_its_onnx_and_described_once(tmp_path):
    """`base.train_final`, which the leave-one-source-out, held-out-site and new-scans studies'
    final steps share: the model and its ONNX export on disk, the fields every final entry keeps,
    rows/s from the rows trained, and the digest that ties later scores to these weights."""
    pytest.importorskip("tensorflow")
    from braintumor.models import training
    from braintumor.models.networks import load_model

    sources = [_source("brain-tumor", (16, 8, 4), seed=1), _source("lgg", (16, 8, 4), seed=2)]
    overrides = {"architecture": {"widths": (4, 4, 4, 4, 4), "dense_units": (4,)},
                 "recipe": {"max_epochs": 1, "start_from_epoch": 1, "batch_size": 16}}
    path = tmp_path / "final" / "model.keras"
    model, entry = base.train_final(lambda: training.train("a-lgg", "check", overrides, sources=sources), path)
    assert path.is_file() and path.with_suffix(".onnx").is_file()
    assert entry["model_file"] == str(path) and entry["trained_rows"] == {"brain-tumor": 16, "lgg": 16}
    assert entry["epochs_run"] == 1 and entry["rows_per_second"] > 0 and entry["seconds"] > 0 and entry["machine"]
    assert entry["weights_sha256"] == base.weights_digest(load_model(path)) == base.weights_digest(model)
