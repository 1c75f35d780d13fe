"""One folder per model (`model/<name>/`, `model/studies/<name>/`): its config.toml says how it
trains, and training reads it and nothing else; its card holds what `predict` uses; the wheel
carries the folders as they are."""

from __future__ import annotations

import json
import shutil
import tomllib

import numpy as np
import pytest

from braintumor import config
from braintumor.models import configs, roles, specs

MODEL_DIR = config.REPO_ROOT / config.MODEL_DIR


def _scratch_models(tmp_path):
    """A copy of model/ with each folder's config.toml only (no weights), as BRAIN_TUMOR_MODELS takes it."""
    scratch = tmp_path / "model"
    for name in configs.NAMES:
        relative = configs.model_dir(name).relative_to(config.MODEL_DIR)
        (scratch / relative).mkdir(parents=True)
        shutil.copy(MODEL_DIR / relative / configs.CONFIG_FILE, scratch / relative / configs.CONFIG_FILE)
    return scratch


def test_each_model_has_one_folder_with_its_config_weights_export_and_card():
    for name in configs.NAMES:
        folder = MODEL_DIR / configs.model_dir(name).relative_to(config.MODEL_DIR)
        found = {path.name for path in folder.iterdir()}
        assert found - {"scope.json", "scope.onnx"} == {"config.toml", "model.keras", "model.onnx", "card.json"}, name
        assert ("scope.onnx" in found) <= ("scope.json" in found), name  # a scope network only beside its scope.json
        assert (folder.parent == MODEL_DIR) == (roles.role(name) != "study record"), name
        assert specs.SPECS[name].file == configs.model_file(name) == configs.model_dir(name) / "model.keras"
    assert config.MODEL_PATH == configs.model_file("single-source")


def test_no_config_holds_a_decision_reference_and_each_writes_out_its_seed():
    for name in configs.NAMES:
        text = (MODEL_DIR / configs.model_dir(name).relative_to(config.MODEL_DIR) / "config.toml").read_text()
        assert "decision:" not in text, name
        written = tomllib.loads(text)
        assert isinstance(written["training"]["seed"], int), name
        assert {"architecture", "recipe", "training", "rules", "role", "provenance"} <= set(written), name
        assert "files" not in written, name  # the folder is the files


def test_every_card_is_what_the_records_render(tmp_path):
    """The committed cards are what `reports.cards` makes from metrics.json and the records now."""
    pytest.importorskip("keras")
    from braintumor.reports import cards

    metrics = json.loads((MODEL_DIR / "metrics.json").read_text())
    records = cards.read_records(config.REPO_ROOT)
    for name in configs.NAMES:
        folder = MODEL_DIR / configs.model_dir(name).relative_to(config.MODEL_DIR)
        committed = json.loads((folder / "card.json").read_text())
        assert cards.card(name, metrics, records, folder, committed) == committed, name
        assert committed["files"]["model.onnx"] == cards.file_sha256(folder / "model.onnx")
        assert 0 < committed["threshold"] < 1 and committed["input_check"]["bounds"]
    new_scans = json.loads((MODEL_DIR / "new-scans" / "card.json").read_text())
    study = json.loads((MODEL_DIR / "new_scans_study.json").read_text())
    assert new_scans["weights_sha256"] == study["final"]["weights_sha256"]
    if study.get("scores"):  # the one scoring describes these weights, or it was moved aside as another's
        assert study["scores"]["weights_sha256"] == new_scans["weights_sha256"]
    else:
        assert study["scores_of_other_weights"]["weights_sha256"] != new_scans["weights_sha256"]
    assert new_scans["threshold"] == study["final"]["threshold"] and new_scans["role"] == "default"


def test_a_card_with_a_stale_digest_is_recomputed_from_the_weights(tmp_path):
    pytest.importorskip("keras")
    from braintumor.reports import cards
    from braintumor.studies.base import weights_digest
    from braintumor.models.networks import load_model

    folder = MODEL_DIR / "single-source"
    metrics = json.loads((MODEL_DIR / "metrics.json").read_text())
    stale = {"files": {"model.keras": "0" * 64}, "weights_sha256": "f" * 64}
    made = cards.card("single-source", metrics, {}, folder, stale)
    assert made["weights_sha256"] == weights_digest(load_model(folder / "model.keras")) != "f" * 64


def test_widths_edited_in_the_config_are_the_network_that_trains(tmp_path, monkeypatch):
    """The new-scans folder's config.toml alone says how it trains: edit its widths in a scratch
    copy, train it on the check schedule, and the network has those widths."""
    pytest.importorskip("keras")
    from braintumor.data.sources import Source
    from braintumor.models import training

    scratch = _scratch_models(tmp_path)
    path = scratch / "new-scans" / "config.toml"
    text = path.read_text()
    assert "widths = [24, 48, 96, 192, 192]" in text
    path.write_text(text.replace("widths = [24, 48, 96, 192, 192]", "widths = [4, 6, 8, 10, 12]")
                    .replace("resolution = 128", "resolution = 64"))
    monkeypatch.setenv(configs.MODELS_ENV_VAR, str(scratch))

    rng = np.random.default_rng(0)

    def source(name, n=24):
        images = rng.integers(0, 255, (n, 240, 240, 1), dtype=np.uint8)
        labels = np.arange(n) % 2
        split = np.array(["train"] * (n - 8) + ["val"] * 8)
        return Source(name, images, labels, np.array([f"{name}{k}" for k in range(n)]), np.arange(n), split)

    trained = training.train("new-scans", "check", sources=[source("brain-tumor"), source("lgg")], seed=1)
    convs = [layer for layer in trained.model.layers if type(layer).__name__ == "Conv2D"]
    assert [layer.filters for layer in convs] == [4, 6, 8, 10, 12]
    assert trained.model.input_shape == (None, 240, 240, 1) and trained.rows == {"brain-tumor": 16, "lgg": 16}
    monkeypatch.delenv(configs.MODELS_ENV_VAR)
    assert configs.architecture("new-scans")["widths"] == (24, 48, 96, 192, 192)  # the committed folder untouched


def test_a_config_that_asks_for_brain_extraction_trains_on_extracted_rows(tmp_path, monkeypatch):
    """`[preprocessing] brain_extraction` in the folder's config.toml reaches training: every
    training source's rows go through the extraction it names, before the network sees them."""
    pytest.importorskip("keras")
    from braintumor.data import brain_extraction
    from braintumor.data.sources import Source
    from braintumor.models import networks, training

    scratch = _scratch_models(tmp_path)
    configs.write_setting("new-scans", "preprocessing", "brain_extraction", "classical-v1", "a test", root=scratch)
    configs.write_setting("new-scans", "preprocessing", "extract_training_rows", True, "a test", root=scratch)
    monkeypatch.setenv(configs.MODELS_ENV_VAR, str(scratch))
    assert training.preprocessing("new-scans") == "classical-v1"
    assert training.preprocessing("new-scans", {"preprocessing": {"brain_extraction": "none"}}) == "none"

    calls, seen = [], []
    monkeypatch.setattr(brain_extraction, "extract_brain",
                        lambda images, method: calls.append(method) or np.zeros_like(images))
    monkeypatch.setattr(networks, "train", lambda model, x, *args, **kwargs: seen.append(x) or None)
    rng = np.random.default_rng(0)
    n = 12
    sources = [Source(name, rng.integers(1, 255, (n, 240, 240, 1), dtype=np.uint8), np.arange(n) % 2,
                      np.array([f"{name}{k}" for k in range(n)]), np.arange(n), np.array(["train"] * 8 + ["val"] * 4))
               for name in ("brain-tumor", "lgg")]
    training.train("new-scans", "check", sources=sources, seed=1)
    assert calls == ["classical-v1", "classical-v1"]  # one call per source
    assert seen and not np.asarray(seen[0]).any()  # the network was given the extracted (here: zeroed) rows
    assert training.preprocessed(sources, "none") == sources
    configs.write_setting("new-scans", "preprocessing", "extract_training_rows", False, "a test", root=scratch)
    calls.clear()
    training.train("new-scans", "check", sources=sources, seed=1)  # inference_only: the rows as given
    assert calls == [] and training.preprocessing("new-scans") == "none"


def test_a_config_that_names_another_model_or_none_is_refused(tmp_path):
    scratch = _scratch_models(tmp_path)
    (scratch / "single-source" / "config.toml").write_text('name = "two-source"\n')
    with pytest.raises(ValueError, match="names itself"):
        configs.load_config("single-source", scratch)
    with pytest.raises(KeyError, match="no model folder 'three-source'"):
        configs.load_config("three-source", scratch)


def test_the_network_seed_is_the_configs_unless_a_sweep_sets_one(monkeypatch):
    from braintumor.models import training

    monkeypatch.delenv(config.SEED_ENV_VAR, raising=False)
    assert training.network_seed("new-scans") == configs.load_config("new-scans")["training"]["seed"] == 42
    monkeypatch.setenv(config.SEED_ENV_VAR, "7")
    monkeypatch.setattr(config, "TRAINING_SEED", 7)
    assert training.network_seed("new-scans") == 7


def test_the_wheel_carries_every_folder_as_it_is_without_the_keras_files(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("setup_under_test", config.REPO_ROOT / "setup.py")
    module = importlib.util.module_from_spec(spec)
    import setuptools

    monkeypatch_setup = setuptools.setup
    setuptools.setup = lambda **kwargs: None  # the module calls setup() at import
    try:
        spec.loader.exec_module(module)
    finally:
        setuptools.setup = monkeypatch_setup
    written = module.copy_folders(tmp_path / "shipped_models")
    relative = {path.relative_to(tmp_path / "shipped_models").as_posix() for path in written}
    for name in configs.NAMES:
        folder = configs.model_dir(name).relative_to(config.MODEL_DIR).as_posix()
        assert {f"{folder}/config.toml", f"{folder}/card.json", f"{folder}/model.onnx"} <= relative, name
        assert (tmp_path / "shipped_models" / folder / "card.json").read_bytes() == \
            (MODEL_DIR / folder / "card.json").read_bytes()
    assert not any(path.endswith(".keras") for path in relative)


def test_predict_reads_the_card_beside_the_model_and_not_metrics_json():
    from braintumor.predict import default_threshold, input_check_rule, resolve_model

    path, name = resolve_model(None)
    card = json.loads((path.parent / "card.json").read_text())
    assert name == roles.default_model() and path == config.REPO_ROOT / configs.model_file(name)
    assert default_threshold(path) == (card["threshold"], None)
    assert input_check_rule(path)[0] == card["input_check"] or input_check_rule(path)[0]["bounds"] == card["input_check"]["bounds"]
    for module in (config.REPO_ROOT / "braintumor" / "predict").glob("*.py"):
        assert "metrics.json\"" not in module.read_text() and "METRICS_PATH" not in module.read_text(), module.name
