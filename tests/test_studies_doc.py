"""docs/studies.md: one section per study, in the order run, each with its table read from the
study's committed record, its rules (linked to docs/decisions.md) and the command that re-runs it."""

import json
import re

import pytest

from braintumor import config
from braintumor.models import configs
from braintumor.reports import render

DOCUMENT = "docs/studies.md"

#: Every study's section heading, in the order the project ran them.
SECTIONS = (
    "### The reference CNN's input resolution",
    "### A screen of designs on a GPU",
    "### The CPU search for the improved CNN",
    "### When early stopping starts watching",
    "### Grouped cross-validation of the shipped recipe",
    "### Matched pairs in cross-validation: mirror image, head-area weights, second seed",
    "### A second training source",
    "### Three sources, leave one out",
    "### Held-out LGG sites",
    "### The new-scans study: predict's default",
)


def _record(name: str) -> dict:
    return json.loads((config.REPO_ROOT / config.MODEL_DIR / name).read_text())


def _render(model_dir) -> str:
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    return render.render_documents(metrics, render.load_records(model_dir))[DOCUMENT]


@pytest.fixture(scope="module")
def studies() -> str:
    return _render(config.REPO_ROOT / config.MODEL_DIR)


def _section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    later = [text.index(h + "\n") for h in SECTIONS if text.index(h + "\n") > start]
    return text[start:min(later, default=len(text))]


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_document_is_rendered_with_the_others():
    assert render.DOCUMENTS[DOCUMENT] == "studies.md.j2"
    assert (config.REPO_ROOT / DOCUMENT).is_file()


def test_every_study_has_its_section_in_the_order_run(studies):
    positions = [studies.index(heading + "\n") for heading in SECTIONS]
    assert positions == sorted(positions)
    for heading in SECTIONS:
        section = _section(studies, heading)
        assert "[decisions.md](decisions.md)" in section, heading  # its rules, linked
        assert "**Re-run**" in section, heading
        assert "_No record in this run" not in section, heading  # every committed record is shown


def test_the_contents_link_every_section(studies):
    anchors = set(re.findall(r"\]\(#([^)]+)\)", studies))
    assert anchors == {slug(heading.lstrip("#")) for heading in SECTIONS}
    card = (config.REPO_ROOT / "MODEL_CARD.md").read_text()
    card_anchors = {slug(line.lstrip("#")) for line in card.splitlines() if line.startswith("#")}
    for anchor in re.findall(r"\(\.\./MODEL_CARD\.md#([^)]+)\)", studies):
        assert anchor in card_anchors, anchor
    assert slug("The A + LGG model: `model/studies/a-lgg/`") == "the-a--lgg-model-modelstudiesa-lgg"


def test_each_table_holds_the_rows_of_its_record(studies):
    resolution = _section(studies, SECTIONS[0])
    for row in _record("resolution_study.json")["reference"]["rows"]:
        assert re.search(rf"^\| (\*\*)?{row['resolution']}x{row['resolution']}(\*\* \(chosen\))? \| {row['parameters']:,} \|",
                         resolution, re.M), row
    screen = _section(studies, SECTIONS[1])
    for row in _record("gpu_screen.json")["rows"]:
        assert f"| `{row['name']}` | {row['parameters']:,} |" in screen
    search = _section(studies, SECTIONS[2])
    for row in _record("improved_search.json")["rows"]:
        assert re.search(rf"^\| (\*\*)?`{re.escape(row['name'])}`(\*\* \(chosen\))? \| {row['parameters']:,} \|", search, re.M)
    assert f"**`{configs.load_config('single-source')['candidate']}`** (chosen)" in search
    stopping = _section(studies, SECTIONS[3])
    for path in sorted((config.REPO_ROOT / config.MODEL_DIR).glob("cv*.json")):
        assert f"| `{_record(path.name)['file']}` |" in stopping and f"- `{_record(path.name)['file']}`: `" in stopping
    cv = _record("cv_results.json")["models"]["improved_cnn"]["summary"]["accuracy"]
    assert f"| 5 | {100 * cv['mean']:.2f}% ± {100 * cv['std']:.2f} |" in _section(studies, SECTIONS[4])
    matched = _section(studies, SECTIONS[5])
    pairs = _record("cv_g1_unweighted.json")["matched_pairs"]["plain"]
    assert f"| `model/cv_g1_unweighted.json` | none | each scan as it is | " in matched and f"{pairs['roc_auc']:.4f} (" in matched
    source = _section(studies, SECTIONS[6])
    record = _record("source_study.json")
    for row in record["rows"]:
        name = f"**{row['name']}** (picked)" if row["name"] == record["picked"] else row["name"]
        assert f"\n| {name} | " in source
    short = {key: dataset["short"] for key, dataset in configs.datasets().items()}
    loso = _section(studies, SECTIONS[7])
    for row in _record("loso_study.json")["rows"]:
        trained = " + ".join(short[s] for s in row["sources"])
        assert f"| {row['variant']} | {trained} | {short[row['held_out']]} | {row['held_out_figures']['roc_auc']:.3f} (" in loso
    sites = _section(studies, SECTIONS[8])
    for site, figures in _record("site_study.json")["single_source"]["held_out"].items():
        assert f"| {site} | {figures['n']} | {figures['roc_auc']:.3f} (" in sites
    new_scans = _section(studies, SECTIONS[9])
    for variant in {row["variant"] for row in _record("new_scans_study.json")["rows"]}:
        assert f"\n| {variant}" in new_scans


def test_each_section_names_its_study_and_its_make_target(studies):
    for key, heading in (("resolution", 0), ("cv", 4), ("source", 6), ("loso", 7), ("site", 8), ("new-scans", 9)):
        study = configs.study_names()[key]
        section = _section(studies, SECTIONS[heading])
        assert study["asks"] in section and f"`make {study['make']}`" in section, key


def test_a_study_without_its_record_says_how_to_make_it(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    gone = ("resolution_study.json", "gpu_screen.json", "source_study.json", "site_study.json")
    for path in (config.REPO_ROOT / config.MODEL_DIR).glob("*.json"):
        if path.name not in gone:
            (model_dir / path.name).write_text(path.read_text())
    text = _render(model_dir)
    assert "_No record in this run: `make study` writes `model/resolution_study.json`._" in text
    assert "_No record in this run: `model/gpu_screen.json`._" in text
    assert "_No record in this run: `make source-study` writes `model/source_study.json`._" in text
    assert "_No record in this run: `make site-study` writes `model/site_study.json`._" in text
    assert all(heading + "\n" in text for heading in SECTIONS)


def test_the_readme_links_the_studies_document():
    assert "[docs/studies.md](docs/studies.md)" in (render.TEMPLATES / "README.md.j2").read_text()
