"""The documents as rendered from the committed records: the README's length and shape, the
renderer's settings, and `model/README.md` listing every file in `model/`."""

import fnmatch
import json
import re

import pytest
from jinja2 import UndefinedError

from braintumor import config
from braintumor.reports import render

README_WORD_LIMIT = 1500


@pytest.fixture(scope="module")
def documents():
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    return render.render_documents(metrics, render.load_records(config.REPO_ROOT / config.MODEL_DIR))


def prose_words(markdown: str) -> int:
    """Words outside fenced code blocks and HTML comments."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return len(text.split())


def test_the_readme_is_at_most_1500_words_outside_code_blocks(documents):
    assert prose_words("```\nmany words here\n```\nfour words of prose") == 4
    assert prose_words(documents["README.md"]) <= README_WORD_LIMIT


def test_the_readme_puts_the_results_table_and_the_two_commands_on_its_first_screen(documents):
    readme = documents["README.md"]
    first_screen = readme[:readme.index("## Requirements")]
    assert "| **Cross-validated estimate**" in first_screen and "| **Outside scans**" in first_screen
    assert "make reproduce" in first_screen and "make test" in first_screen
    assert first_screen.count("\n| ") <= 8  # one table
    assert {"predict_usage.md.j2", "benchmark.md.j2"} <= {path.name for path in render.TEMPLATES.iterdir()}


def test_the_committed_documents_are_what_the_templates_render(documents):
    for name, text in documents.items():
        assert (config.REPO_ROOT / name).read_text() == text, f"{name} is stale: python -m braintumor.reports.render"


def test_templates_refuse_an_undefined_figure():
    with pytest.raises(UndefinedError):
        render.environment().from_string("{{ m.no_such_figure }}").render(m={})
    assert render.environment().from_string("a\n").render() == "a\n"  # keep_trailing_newline


@pytest.mark.parametrize("template", ["{{ e|ci('accuracy') }}", "{{ e.get('accuracy')|pct }}", "{{ e.get('roc_auc')|num }}",
                                      "{{ e|ci('roc_auc', percent=False) }}"])
def test_a_render_with_a_missing_figure_fails(template):
    from braintumor.reports.filters import MissingFigure

    env = render.environment()
    assert env.from_string(template).render(e={"accuracy": 0.5, "roc_auc": 0.75}) in ("50.0%", "0.750")
    with pytest.raises(MissingFigure):
        env.from_string(template).render(e={"sensitivity": 0.9})
    with pytest.raises(MissingFigure):
        env.from_string(template).render(e={"accuracy": None, "roc_auc": float("nan")})


def test_a_missing_figure_in_the_records_stops_every_document():
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    del metrics["test"]["accuracy"]
    with pytest.raises(Exception):
        render.render_documents(metrics, render.load_records(config.REPO_ROOT / config.MODEL_DIR))


def test_the_card_cites_every_dataset_of_its_metadata(documents):
    card = documents["MODEL_CARD.md"]
    header, body = card.split("---\n")[1], card.split("## Citation and links")[1]
    listed = re.findall(r"^- (\S+/\S+)$", header.split("datasets:")[1].split("metrics:")[0], flags=re.M)
    from braintumor.models import configs

    assert listed == [d["kaggle"] for d in configs.datasets().values()] and "mateuszbuda/lgg-mri-segmentation" in listed
    for name in listed:
        assert f"[{name}](https://www.kaggle.com/datasets/{name})" in body, name
    assert "Buda" in body and "Computers in Biology and Medicine, 2019" in body and "TCGA-LGG" in body


def test_a_changed_record_changes_the_documents(monkeypatch):
    from braintumor.models import configs

    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    records = render.load_records(config.REPO_ROOT / config.MODEL_DIR)
    changed = {**configs.datasets()}
    changed["lgg"] = {**changed["lgg"], "patients": 1234}
    monkeypatch.setattr(configs, "datasets", lambda directory=None: changed)
    documents = render.render_documents(metrics, records)
    assert "1234 patients" in documents["README.md"] and "1234 patients" in documents["MODEL_CARD.md"]


def test_the_model_card_opens_with_hugging_face_metadata(documents):
    card = documents["MODEL_CARD.md"]
    header = card.split("---\n")[1]
    for key in ("license:", "library_name: keras", "datasets:", "metrics:", "tags:"):
        assert key in header
    for section in ("## Model details", "## Uses", "## Bias, risks and limitations", "## How to get started",
                    "## Training details", "## Evaluation", "## Environmental impact and compute", "## Citation"):
        assert section in card


def _listed(readme: str) -> set[str]:
    return set(re.findall(r"`([^`/ ]+)`", readme))


def test_model_readme_lists_every_file_in_model():
    model_dir = config.REPO_ROOT / config.MODEL_DIR
    listed = _listed((model_dir / "README.md").read_text())
    files = sorted(path.name for path in model_dir.iterdir() if path.is_file() and path.name != "README.md")
    unlisted = [name for name in files if not any(fnmatch.fnmatch(name, pattern) for pattern in listed)]
    assert not unlisted, f"add a line for each to model/README.md: {unlisted}"
