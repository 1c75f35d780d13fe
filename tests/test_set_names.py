"""One name per set: the documents and the notebooks' prose call each set by its short name in
braintumor/configs/datasets.toml, and never give a set's letter to another set."""

import json
import re

import pytest

from braintumor import config
from braintumor.models import configs
from braintumor.reports import filters, render

DOCUMENTS = ("README.md", "MODEL_CARD.md", "erroranalysis.md", "docs/decisions.md", "docs/predict.md")
NOTEBOOKS = ("data_prep.ipynb", "model.ipynb", "erroranalysis.ipynb")


def _sets() -> dict[str, dict]:
    return configs.datasets()


def _keyword(dataset: dict) -> str:
    """The words that name a set in a sentence: its long name without the article."""
    return re.sub(r"^the ", "", dataset["long"])


def _texts():
    for name in DOCUMENTS:
        path = config.REPO_ROOT / name
        if path.is_file():
            yield name, path.read_text(encoding="utf-8")
    for name in NOTEBOOKS:
        cells = json.loads((config.REPO_ROOT / name).read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                yield f"{name} cell {index}", "".join(cell["source"])


def misnamed(text: str, sets: dict[str, dict]) -> list[str]:
    """Places in `text` where a set's short name is bound to another set's long name, as in
    "the LGG FLAIR slices (C" or "C (the outside scans" said of a set whose letter is not C."""
    found = []
    for key, dataset in sets.items():
        for other_key, other in sets.items():
            if other_key == key:
                continue
            letter, words = re.escape(dataset["short"]), re.escape(_keyword(other))
            for pattern in (rf"{words}\W{{0,3}}\(\s*{letter}\b", rf"\b{letter}\s*[(:]\s*(the )?{words}"):
                found += [match.group(0) for match in re.finditer(pattern, text, flags=re.IGNORECASE)]
    return found


def test_the_datasets_table_gives_every_set_a_distinct_short_and_long_name():
    sets = _sets()
    assert {key for key in sets} == {"brain-tumor", "extra", "lgg", "outside"}
    for field in ("short", "long", "use"):
        values = [dataset[field] for dataset in sets.values()]
        assert all(values) and len(set(values)) == len(values), field


def test_the_check_catches_a_letter_given_to_another_set():
    sets = _sets()
    assert misnamed("trained on A, B and the LGG FLAIR slices (C: 76 patients)", sets)
    assert misnamed("the outside scans (LGG)", sets)
    assert not misnamed("74.6% of the outside scans (C) and the LGG FLAIR slices (LGG)", sets)


@pytest.mark.parametrize("where,text", list(_texts()), ids=lambda value: value if len(value) < 60 else "")
def test_no_set_letter_has_two_meanings(where, text):
    assert misnamed(text, _sets()) == [], where


def test_the_documents_letters_come_from_the_datasets_table():
    sets = _sets()
    assert render.SOURCE_NAMES == {key: dataset["short"] for key, dataset in sets.items()}
    assert filters.short_source("lgg") == sets["lgg"]["short"] and filters.short_source("extra") == sets["extra"]["short"]
    readme = (config.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    glossary = readme[readme.index("## Sets and models, by name"):readme.index("## Results")]
    for dataset in sets.values():
        assert f"| **{dataset['short']}** |" in glossary
