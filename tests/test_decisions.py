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


def _code_texts():
    """(where, text) of every place code may apply a rule: the package's and scripts' Python
    (the registry's own reader aside), the configurations, and the notebooks' code cells."""
    root = config.REPO_ROOT
    files = [p for p in (root / "braintumor").rglob("*.py") if p.name != "decisions.py"]
    files += sorted((root / "scripts").glob("*.py")) + sorted((root / "braintumor" / "configs").glob("*.toml"))
    for path in files:
        yield str(path.relative_to(root)), path.read_text(encoding="utf-8")
    for notebook in sorted(root.glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for number, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                yield f"{notebook.name} cell {number}", "".join(cell["source"])


def _literal(value) -> str:
    """A regular expression for `value` written as a literal (25, 25.0, 0.90 / 0.9, 1e-3, "head_crop")."""
    import re

    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        forms = {repr(value), repr(float(value)), f"{value:g}", f"{float(value):.2f}"}
        if float(value).is_integer():
            forms.add(str(int(value)))
        return "(?:" + "|".join(re.escape(form) + r"(?![\d.])" for form in sorted(forms)) + ")"
    return r"""['"]""" + re.escape(str(value)) + r"""['"]"""


def test_no_rule_parameter_is_hard_coded_outside_the_registry():
    """A rule's numeric parameter passed or assigned by its own name as a literal
    (`max_megabytes=25`, `max_training_seconds: float = 600`) anywhere but decisions.toml is a
    second copy of it. Text parameters are left out: they name options of the code (the
    `preprocess="head_crop"` a rule requires is also the keyword every such network is built with)."""
    import re

    found = []
    for d in decisions.decisions():
        for key, value in d.parameters.items():
            if isinstance(value, (list, dict, str)):
                continue
            pattern = re.compile(rf"\b{re.escape(key)}\s*(?::\s*[\w |]+)?=\s*{_literal(value)}")
            for where, text in _code_texts():
                found += [f"{where}: {match.group()} (decision {d.name})" for match in pattern.finditer(text)]
    assert not found, "rule parameters hard-coded outside braintumor/decisions.toml:\n" + "\n".join(found)


def test_the_hard_coded_parameter_check_sees_keywords_and_defaults():
    import re

    pattern = re.compile(rf"\bmax_megabytes\s*(?::\s*[\w |]+)?=\s*{_literal(25)}")
    assert pattern.search("choose_resolution(rows, max_megabytes=25)")
    assert pattern.search("def f(max_megabytes: float = 25.0):")
    assert not pattern.search("choose_resolution(rows, max_megabytes=250)")
    assert not pattern.search("choose_resolution(rows, max_megabytes=MAX_MEGABYTES)")


def test_every_rule_with_parameters_is_read_by_the_code_that_applies_it():
    from braintumor.models import selection
    from braintumor.studies import loso

    assert selection.MAX_MEGABYTES == decisions.decision("resolution").parameters["max_megabytes"]
    assert selection.MAX_TRAINING_SECONDS == decisions.decision("improved_cnn").parameters["max_training_seconds"]
    import inspect

    assert inspect.signature(selection.choose_resolution).parameters["max_megabytes"].default == selection.MAX_MEGABYTES
    assert inspect.signature(selection.choose_improved).parameters["max_training_seconds"].default == \
        selection.MAX_TRAINING_SECONDS
    assert loso.TIE == decisions.decision("loso_pick").parameters["tie"]


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
    """Once a rule has been applied (its outcome is recorded), every figure it compared is in the
    records. A rule written before its run (outcome not recorded yet) may lack some: the study
    that applies it may be part-way (docs/decisions.md then says "not recorded yet")."""
    model_dir = config.REPO_ROOT / config.MODEL_DIR
    records = decisions.read_records(model_dir, decisions.paths())
    applied = 0
    for d in decisions.decisions():
        if decisions.resolve(d.outcome, records) is decisions.MISSING:
            assert (config.REPO_ROOT / d.records[0]).is_file(), f"{d.name}: its record {d.records[0]} is missing"
            continue
        applied += 1
        for path in d.compared.values():
            assert decisions.resolve(path, records) is not decisions.MISSING, (d.name, path)
    assert applied >= len(decisions.decisions()) - 3  # only the newest study's rules may be waiting for their run


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
