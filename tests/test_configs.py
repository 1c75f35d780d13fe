"""One configuration per model (`model/<name>/config.toml`): what the notebook and the
studies train is what the file says."""

import json
import shutil

import pytest

from braintumor import config
from braintumor.models import configs, recipes, specs

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




def test_the_datasets_record_holds_the_counts_the_records_made():
    datasets, metrics = configs.datasets(), _json("metrics.json")
    assert datasets["outside"]["used"] == metrics["outside"]["n"] <= datasets["outside"]["files"]
    assert datasets["extra"]["used"] == metrics["two_source"]["extra_counts"]["images"] <= datasets["extra"]["files"]
    assert all(d["kaggle"].count("/") == 1 for d in datasets.values())


def test_a_study_sets_one_written_value_and_keeps_every_other_line(tmp_path):
    shutil.copytree(MODEL_DIR / "new-scans", tmp_path / "new-scans", ignore=shutil.ignore_patterns("*.keras", "*.onnx"))
    before = (tmp_path / "new-scans" / "config.toml").read_text()
    configs.write_setting("new-scans", "preprocessing", "brain_extraction", "classical-v1",
                          "picked by brain_extraction_default (2026-12-05)", root=tmp_path)
    after = (tmp_path / "new-scans" / "config.toml").read_text()
    assert configs.load_config("new-scans", root=tmp_path)["preprocessing"]["brain_extraction"] == "classical-v1"
    changed = [(old, new) for old, new in zip(before.splitlines(), after.splitlines()) if old != new]
    assert len(changed) == 1 and "brain_extraction_default" in changed[0][1]
    assert len(before.splitlines()) == len(after.splitlines())
    with pytest.raises(KeyError, match="written 0 times"):
        configs.write_setting("new-scans", "preprocessing", "no_such_key", "x", "note", root=tmp_path)
    assert (tmp_path / "new-scans" / "config.toml").read_text() == after  # a refused setting writes nothing
