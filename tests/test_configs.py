"""One configuration per model (`model/<name>/config.toml`): what the notebook and the
studies train is what the file says, and each file is what its rule picked."""

import json
import shutil

import pytest

from braintumor import config
from braintumor.models import configs, recipes, specs
from braintumor.studies import loso
from braintumor.models.selection import architecture_from_json, choose_improved

MODEL_DIR = config.REPO_ROOT / config.MODEL_DIR


def _json(name):
    path = MODEL_DIR / name
    if not path.is_file():
        pytest.skip(f"no committed {name}")
    return json.loads(path.read_text())


def test_every_shipped_model_has_a_configuration_and_a_spec_built_from_it():
    for name in configs.NAMES:
        written = configs.load_config(name)
        spec = specs.SPECS[name]
        assert spec.file == configs.model_file(name) and spec.sources == configs.training_sources(name)
        assert spec.architecture == configs.architecture(name) and spec.recipe == configs.training_recipe(name)
        assert spec.metrics_key == name.replace("-", "_") and written["rules"]["threshold"]
    assert specs.SPECS["single-source"].file == config.MODEL_PATH
    assert specs.SPECS["a-lgg"].metrics_key == "a_lgg" and specs.DEFAULT_MODEL in specs.SPECS


def test_a_learning_rate_changed_in_a_scratch_copy_reaches_the_notebooks_check_schedule(tmp_path, monkeypatch):
    scratch = tmp_path / "model"
    shutil.copytree(MODEL_DIR, scratch, ignore=shutil.ignore_patterns("*.keras", "*.onnx", "*.json"))
    path = scratch / "single-source" / "config.toml"
    path.write_text(path.read_text().replace("learning_rate = 0.001", "learning_rate = 0.0005"))
    assert configs.training_recipe("single-source", "check", scratch)["learning_rate"] == 0.0005
    monkeypatch.setenv(configs.MODELS_ENV_VAR, str(scratch))
    # model.ipynb's path: configs.training_recipe("single-source", SCHEDULE), or scheduled(...) on it
    check = configs.training_recipe("single-source", "check")
    assert check["learning_rate"] == 0.0005 and check["max_epochs"] == 3
    assert specs.spec_from_config("single-source").training_recipe("check")["learning_rate"] == 0.0005
    assert recipes.scheduled(check, "single-source", "check")["learning_rate"] == 0.0005


def test_the_check_schedule_is_the_configurations_override():
    assert recipes.CHECK_SCHEDULE["improved"] == configs.schedule_override("single-source", "check")
    full, check = configs.training_recipe("single-source"), configs.training_recipe("single-source", "check")
    assert check == {**full, **recipes.CHECK_SCHEDULE["improved"]}
    assert recipes.scheduled(full, "improved", "check") == check == recipes.scheduled(full, "two-source", "check")
    with pytest.raises(ValueError, match="unknown schedule"):
        configs.training_recipe("single-source", "fast")




def test_the_single_source_configuration_is_the_search_row_its_rule_ships_and_what_metrics_record():
    rows = _json("improved_search.json")["rows"]
    chosen = choose_improved(rows)
    written = configs.load_config("single-source")
    assert written["candidate"] == chosen["name"]
    assert configs.architecture("single-source") == chosen["architecture"]
    assert configs.training_recipe("single-source") == chosen["recipe"]
    training = _json("metrics.json")["training"]
    assert training["search_choice"] == written["candidate"] and training["recipe"] == configs.training_recipe("single-source")
    assert training["weighting"] == recipes.SHIPPED_WEIGHTING == written["training"]["weighting"]


def test_the_two_source_configuration_is_the_row_its_rule_picks():
    study = _json("source_study.json")
    row = specs.pick_two_source(study["rows"])
    assert configs.load_config("two-source")["candidate"] == row["name"] == study["picked"]
    assert configs.architecture("two-source") == architecture_from_json(row["architecture"])
    assert configs.training_recipe("two-source") == {**recipes.RECIPES["improved"], **row["recipe"]}
    two = _json("metrics.json")["two_source"]
    assert two["study_row"] == row["name"] and two["recipe"] == configs.training_recipe("two-source")


def test_the_all_source_configuration_is_what_the_study_trained():
    record = _json("loso_study.json")
    assert configs.load_config("all-source")["candidate"] == record["picked"] == loso.trained_variant(record["rows"])
    assert configs.training_recipe("all-source") == record["recipe"] == loso.RECIPE
    assert configs.architecture("all-source") == architecture_from_json(record["all_source"]["architecture"])
    caps = configs.row_caps("all-source")
    assert set(caps) == set(record["all_source"]["trained_rows"]) == set(loso.SOURCES)
    assert all(record["all_source"]["trained_rows"][s] <= caps[s]["train"] for s in caps)


def test_the_a_lgg_configuration_is_the_site_studys_recipe_and_architecture():
    from braintumor.studies import site as site_study

    # the study trained (and recorded) what the configuration says; the module reads the same file
    record = _json("site_study.json")
    assert record["recipe"] == configs.training_recipe("a-lgg") == site_study.RECIPE
    assert configs.architecture("a-lgg") == architecture_from_json(record["final"]["architecture"])
    assert all(architecture_from_json(row["architecture"]) == configs.architecture("a-lgg") for row in record["rows"])
    assert configs.training_sources("a-lgg") == site_study.TRAINING_SOURCES
    assert configs.load_config("a-lgg")["rules"]["threshold"] == "pooled_threshold"
    assert all(caps == {"train": None, "val": None} for caps in configs.row_caps("a-lgg").values())


def test_the_datasets_record_holds_the_counts_the_records_made():
    datasets, metrics = configs.datasets(), _json("metrics.json")
    assert datasets["outside"]["used"] == metrics["outside"]["n"] <= datasets["outside"]["files"]
    assert datasets["extra"]["used"] == metrics["two_source"]["extra_counts"]["images"] <= datasets["extra"]["files"]
    assert all(d["kaggle"].count("/") == 1 for d in datasets.values())
