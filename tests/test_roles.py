"""Each shipped model's role (`braintumor.models.roles`): one default, named in one key
(braintumor/configs/default_model.toml) that `predict`, its help and the documents follow."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from braintumor import config, decisions
from braintumor.models import configs, roles


def test_every_model_has_a_role_and_exactly_one_is_the_default():
    found = {name: roles.role(name) for name in configs.NAMES}
    assert set(found.values()) <= set(roles.ROLES)
    assert [name for name, role in found.items() if role == "default"] == [roles.default_model()]
    assert roles.offered()[0] == roles.default_model()
    assert all(found[name] != "study record" for name in roles.offered())


def test_models_trained_on_set_b_are_study_records():
    # B is evaluation only (decision b_out_of_training): nothing trained on it is offered by name
    for name in configs.NAMES:
        if "extra" in configs.training_sources(name):
            assert roles.role(name) == "study record", name


def test_the_default_is_the_recorded_outcome_of_the_rule_it_names():
    entry = roles.default_entry()
    rule = decisions.decision(entry["decided_by"])
    records = {path.name: json.loads(path.read_text()) for path in (config.REPO_ROOT / config.MODEL_DIR).glob("*.json")}
    assert decisions.resolve(rule.outcome, records) == entry["name"], (
        f"configs/default_model.toml names {entry['name']!r}, but {rule.name}'s recorded outcome "
        f"({rule.outcome}) is {decisions.resolve(rule.outcome, records)!r}")


def test_a_study_record_cannot_be_the_default(tmp_path):
    scratch = tmp_path / "configs"
    shutil.copytree(configs.CONFIG_DIR, scratch)
    (scratch / roles.DEFAULT_FILE).write_text('name = "two-source"\ndecided_by = "site_default"\n')
    with pytest.raises(ValueError, match="two-source.*study record.*cannot be the default"):
        roles.default_model(scratch)
    (scratch / roles.DEFAULT_FILE).write_text('name = "three-source"\ndecided_by = "site_default"\n')
    with pytest.raises(ValueError, match="not a shipped model"):
        roles.default_model(scratch)


def test_the_table_lists_offered_models_first_with_what_each_is_for():
    rows = roles.table()
    assert [row["name"] for row in rows][: len(roles.offered())] == roles.offered()
    assert {row["name"] for row in rows} == set(configs.NAMES)
    assert all(row["for_scans"] and row["sources"] and row["file"].endswith(".keras") for row in rows)


def _run(code_or_args, env, cwd=config.REPO_ROOT):
    args = [sys.executable, *code_or_args]
    finished = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished.stdout


@pytest.mark.skipif(not (config.REPO_ROOT / config.METRICS_PATH).is_file(), reason="no committed metrics.json")
def test_changing_the_default_is_one_line_and_everything_follows(tmp_path):
    # a scratch copy of the configurations with the one key changed, then a re-render (`make docs`)
    scratch = tmp_path / "configs"
    shutil.copytree(configs.CONFIG_DIR, scratch)
    old, new = roles.default_model(), next(name for name in roles.offered() if name != roles.default_model())
    key = scratch / roles.DEFAULT_FILE
    key.write_text(key.read_text().replace(f'name = "{old}"', f'name = "{new}"'))
    changed = [path.name for path in scratch.iterdir()
               if path.read_bytes() != (configs.CONFIG_DIR / path.name).read_bytes()]
    assert changed == [roles.DEFAULT_FILE]

    out = tmp_path / "out"
    (out / config.MODEL_DIR).mkdir(parents=True)
    for name in (config.METRICS_PATH.name, "error_analysis.json"):
        shutil.copy(config.REPO_ROOT / config.MODEL_DIR / name, out / config.MODEL_DIR / name)
    env = {**os.environ, configs.CONFIG_ENV_VAR: str(scratch)}
    _run(["-m", "braintumor.reports.render", str(out)], env)
    for document in ("README.md", "MODEL_CARD.md"):
        text = (out / document).read_text()
        assert f"`predict` uses the **{new}** model unless" in text, document
        assert f"| `{new}` | **default** |" in text and f"| `{old}` | alternative |" in text, document
        assert f"uses the **{old}** model" not in text, document

    resolved = _run(["-c", "from braintumor.predict.models import resolve_model; print(resolve_model(None)[1])"], env)
    assert resolved.strip() == new
    helped = _run(["-m", "braintumor", "predict", "--help"], env)
    assert f"default: {new})" in " ".join(helped.split())


def test_predict_resolves_the_model_once_into_one_object():
    from braintumor.predict import ChosenModel, choose_model, default_threshold, input_check_rule, resolve_model

    path, name = resolve_model(None)
    if not (path.exists() or path.with_suffix(".onnx").exists()):
        pytest.skip("the default model is not in this checkout")
    chosen = choose_model(None)
    assert isinstance(chosen, ChosenModel) and (chosen.name, chosen.path) == (roles.default_model(), path)
    assert chosen.threshold == default_threshold(path)[0] and chosen.input_rule == input_check_rule(path)[0]
    assert chosen.runtime == "onnx" and hasattr(chosen.scorer, "predict_on_batch")  # loaded once, here
    given = choose_model(roles.default_model(), threshold=0.3)
    assert given.threshold == 0.3 and not any("threshold" in note for note in given.notes)
