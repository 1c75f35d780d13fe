"""The decision registry (`braintumor/decisions.toml`): well formed, read by the code that
applies each rule, and rendered with figures from the records."""

import json
import subprocess

import pytest

from braintumor import config, decisions
from braintumor.evaluation import metrics as metrics_module
from braintumor.models import recipes, specs
from braintumor.reports import render


def test_every_entry_is_complete_and_named_once():
    names = [d.name for d in decisions.decisions()]
    assert len(names) == len(set(names)) >= 10
    for d in decisions.decisions():
        assert d.rule and d.reads and d.records and d.commit and ":" in d.outcome
        assert "{" not in d.rule, f"{d.name}: a parameter of the rule is not filled"


def test_the_code_reads_its_rules_from_the_registry():
    assert recipes.FLIP_AVERAGE_RULE == decisions.decision("flip_average").rule
    assert recipes.FLIP_AVERAGE_MIN_GAIN == decisions.decision("flip_average").parameters["min_gain"] == 0.001
    assert recipes.HEAD_AREA_WEIGHTING_MIN_GAIN == 0.002 and recipes.HEAD_AREA_WEIGHTING_MAX_ACCURACY_LOSS == 0.005
    assert recipes.SEED_ENSEMBLE_MEMBERS == 2 and recipes.SEED_ENSEMBLE_MAX_ACCURACY_LOSS == 0.0025
    assert recipes.REQUIRED_PREPROCESS == "head_crop" and recipes.RECIPES["improved"]["start_from_epoch"] == 20
    assert metrics_module.MIN_SENSITIVITY == 0.97 and metrics_module.THRESHOLD_CEILING == 0.5
    assert specs.OUTSIDE_TARGETS == {"roc_auc": 0.95, "sensitivity": 0.90, "specificity": 0.90}
    assert specs.PICK_RULE == decisions.decision("two_source_pick").rule


def test_the_rules_read_the_same_as_when_their_outcomes_were_recorded():
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    recorded = metrics["head_matching"]["cross_validation"]["decisions"]
    assert recorded["mirror_average"]["rule"] == recipes.FLIP_AVERAGE_RULE
    assert recorded["head_area_weighting"]["rule"] == recipes.HEAD_AREA_WEIGHTING_RULE
    assert recorded["seed_ensemble"]["rule"] == recipes.SEED_ENSEMBLE_RULE
    assert metrics["threshold_rule"] == metrics_module.THRESHOLD_RULE
    assert metrics["default_model"]["rule"] == specs.DEFAULT_RULE
    study = json.loads((config.REPO_ROOT / specs.STUDY_PATH).read_text())
    assert study["rule"] == specs.PICK_RULE


def test_every_path_resolves_in_the_committed_records():
    model_dir = config.REPO_ROOT / config.MODEL_DIR
    records = decisions.read_records(model_dir, decisions.paths())
    for path in decisions.paths():
        assert decisions.resolve(path, records) is not decisions.MISSING, path


def test_every_record_named_exists_and_every_commit_is_in_the_history():
    for d in decisions.decisions():
        for record in d.records:
            assert (config.REPO_ROOT / record).is_file(), f"{d.name}: {record}"
    log = subprocess.run(["git", "-C", str(config.REPO_ROOT), "log", "--format=%h", "--abbrev=7"],
                         capture_output=True, text=True)
    if log.returncode:
        pytest.skip("no git history here")
    commits = {line.strip() for line in log.stdout.splitlines()}
    for d in decisions.decisions():
        assert any(commit.startswith(d.commit) for commit in commits), f"{d.name}: {d.commit}"


def test_parse_explains_a_malformed_entry():
    entry = ('[[decision]]\nname = "x"\ntitle = "X"\nrule = "at least {min_gain}"\nreads = "r"\nrecords = []\n'
             'commit = "abc"\napplied_by = "f"\noutcome = "metrics.json:a"\n')
    assert decisions.parse(entry + 'parameters = { min_gain = 0.5 }\n')[0].rule == "at least 0.5"
    with pytest.raises(ValueError, match="names 'min_gain'"):
        decisions.parse(entry)
    with pytest.raises(ValueError, match="listed twice"):
        decisions.parse((entry + 'parameters = { min_gain = 0.5 }\n') * 2)
    with pytest.raises(ValueError, match="lacks"):
        decisions.parse('[[decision]]\nname = "y"\n')


def test_resolve_reads_dotted_paths_list_items_and_wildcards():
    records = {"a.json": {"rows": [{"v": 1}, {"v": 2}], "flag": False}}
    assert decisions.resolve("a.json:rows.*.v", records) == [1, 2]
    assert decisions.resolve("a.json:rows.1.v", records) == 2
    assert decisions.resolve("a.json:flag", records) is False
    assert decisions.resolve("a.json:nope", records) is decisions.MISSING
    assert decisions.resolve("b.json:rows", records) is decisions.MISSING


def test_the_decisions_table_has_a_row_per_entry_with_outcomes_from_the_records():
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    files = {"metrics.json": metrics}
    rows = render.decision_rows(files)
    assert [row["decision"].name for row in rows] == [d.name for d in decisions.decisions()]
    by_name = {row["decision"].name: row for row in rows}
    assert by_name["flip_average"]["outcome"] == "mirror-averaging ships: no"
    assert by_name["default_model"]["outcome"] == "default model: single-source"
    assert by_name["resolution"]["compared"][0][1] == "not recorded yet"  # its record was not given
