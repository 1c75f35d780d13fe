"""One name per study: braintumor/configs/studies.toml names each study once, and the study
registry, the Makefile and the documents follow it (issue 31: "leave-one-source-out" named two
different studies)."""

import re

import pytest

from braintumor import config
from braintumor.models import configs
from braintumor.studies import STUDIES

DOCUMENTS = ("README.md", "MODEL_CARD.md", "erroranalysis.md", "docs/decisions.md", "docs/predict.md", "model/README.md")
TABLE = configs.study_names()


def misnamed(text: str, table: dict) -> list[str]:
    """Places in `text` where one study's title is bound to another study's command or record,
    as in "**Leave-one-source-out study** (`python -m braintumor study source`" or "the
    leave-one-source-out study (model/source_study.json)"."""
    found = []
    for name, study in table.items():
        for other, entry in table.items():
            if other == name:
                continue
            for mark in (f"`python -m braintumor study {other}", entry["record"]):
                pattern = re.escape(study["title"]) + r"[*\s]*\(`?" + re.escape(mark)
                found += [f"{study['title']!r} beside {mark!r}" for _ in re.finditer(pattern, text, flags=re.IGNORECASE)]
    return found


def test_the_table_and_the_study_registry_name_the_same_studies():
    assert set(TABLE) == set(STUDIES)
    titles = [study["title"].lower() for study in TABLE.values()]
    assert len(set(titles)) == len(titles), "two studies share a title"
    for name, study in TABLE.items():
        assert (config.REPO_ROOT / study["record"]).is_file(), f"{name}: no committed record {study['record']}"


@pytest.mark.parametrize("name", sorted(TABLE))
def test_each_studys_make_target_is_named_by_its_title_and_runs_it(name):
    makefile = (config.REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    study = TABLE[name]
    target = re.search(rf"^{re.escape(study['make'])}:[^\n]*## (?P<help>[^\n]*)\n(?P<recipe>(?:\t[^\n]*\n)+)", makefile, re.M)
    assert target, f"no Makefile target {study['make']!r} with a ## help line"
    assert target["help"].lower().startswith(study["title"].lower()), (study["make"], target["help"])
    assert f"-m braintumor study {name} " in target["recipe"], target["recipe"]


def _recorded_history() -> list[str]:
    """The looks at held-out data, worded as they were recorded (`reports.disclosure`): history,
    kept as written, so the check reads the documents around them."""
    from braintumor.reports import disclosure

    texts = [value for look in (*disclosure.RECORDED_TEST_ROW_LOOKS, *disclosure.RECORDED_OUTSIDE_LOOKS)
             for value in look.values()]
    texts += list(disclosure.HISTORY_CLAUSES.values()) + list(disclosure.LOOK_KINDS.values())
    return sorted((text for text in texts if isinstance(text, str)), key=len, reverse=True)


def test_no_template_gives_one_studys_title_to_another():
    for path in sorted((config.REPO_ROOT / "braintumor/reports/templates").glob("*.j2")):
        assert not misnamed(path.read_text(encoding="utf-8"), TABLE), (path.name, misnamed(path.read_text(), TABLE))


def test_no_document_gives_one_studys_title_to_another_outside_the_recorded_looks():
    history = _recorded_history()
    for document in DOCUMENTS:
        text = (config.REPO_ROOT / document).read_text(encoding="utf-8")
        for recorded in history:
            text = text.replace(recorded, "")
        assert not misnamed(text, TABLE), (document, misnamed(text, TABLE))


def test_the_check_catches_the_old_misnaming():
    old = "**Leave-one-source-out study** (`python -m braintumor study source`, `model/source_study.json`)."
    assert misnamed(old, TABLE) == ["'leave-one-source-out study' beside '`python -m braintumor study source'"]
    assert misnamed("the rows of the leave-one-source-out study (model/source_study.json)", TABLE)
    assert not misnamed("the rows of the source study (model/source_study.json)", TABLE)
