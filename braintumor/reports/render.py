"""The generated documents, rendered from the Jinja2 templates in `templates/`.

Nothing here holds a result: the templates format what the records say (`model/metrics.json`,
the study records in `model/*.json` and the error analysis's own figures), so a document can
never disagree with them. `write_documents` is what `erroranalysis.ipynb` calls at its end;
`python -m braintumor.reports.render` renders the same documents from the committed records.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import disclosure
from .filters import FILTERS
from . import views
from .views import VIEWS
from .. import config
from .. import decisions as registry
from ..files import atomic_write
from ..evaluation.floors import load_floors
from ..evaluation.records import (HELD_OUT_COLUMNS, cv_complete, headline_cv, shipped_cv_model,
                                  study_sources, study_variant)
from ..models import configs, roles
from ..studies import loso, site as site_study
from ..models.recipes import CHECK_SCHEDULE, CV_VARIANT_KEYS, RECIPES, shipped_cv_variant

TEMPLATES = Path(__file__).with_name("templates")

#: Each generated document (path under the output root) and its template.
DOCUMENTS = {
    "README.md": "README.md.j2",
    "erroranalysis.md": "erroranalysis.md.j2",
    "MODEL_CARD.md": "MODEL_CARD.md.j2",
    "docs/decisions.md": "decisions.md.j2",
    "docs/predict.md": "predict.md.j2",
    "docs/studies.md": "studies.md.j2",
}

#: Where erroranalysis.ipynb leaves the figures it computes beyond metrics.json (misclassified
#: scans, Grad-CAM shares, near-duplicates, how often predict's warning fires), so that the
#: documents can be rendered again from the records alone.
ANALYSIS_FILE = "error_analysis.json"

#: Where scripts/onnx_stages.py records where ONNX and Keras part, stage by stage (docs/predict.md reads it).
ONNX_STAGES_FILE = "onnx_stages.json"

#: Row order and display names of the models table.
MODEL_ORDER = (
    ("majority", "Majority class (always 'no tumour')"),
    ("trivial_cues", "Trivial slice-level cues (head size and brightness, random forest)"),
    ("forest_csv_features", "Random forest on the CSV's 13 features ⚠ not from these JPEGs"),
    ("forest_image_features", "Random forest on features recomputed from the JPEGs"),
    ("reference_cnn", "Reference two-conv CNN (the original Kaggle notebook's network)"),
    ("improved_cnn", "Improved CNN (shipped: `model/single-source/model.keras`)"),
)

#: Cross-validation trains fresh networks with a recipe: its rows name the recipe, not a file.
CV_LABELS = {
    "forest_image_features": "Random forest on features recomputed from the JPEGs",
    "improved_cnn": "Improved CNN, shipped recipe (five fresh networks, one per fold)",
}

#: How the documents word the shipped recipe's training weights (`recipes.SHIPPED_WEIGHTING`).
WEIGHTING_WORDS = {"head_area": "training scans weighted so that head size does not predict the label (both classes "
                                "weigh the same within each fifth of the training scans by head area), "}


def cv_labels(cv: dict) -> dict:
    """`CV_LABELS` for this record: where the shipped model is a seed ensemble, the CNN's row is the ensemble's."""
    if shipped_cv_variant(cv) != "seed_ensemble":
        return CV_LABELS
    return {"forest_image_features": CV_LABELS["forest_image_features"],
            CV_VARIANT_KEYS["seed_ensemble"]: f"Improved CNN, shipped recipe (the mean of {cv['setup']['members']} "
                                              f"networks from different seeds, fresh in each fold)"}


def best_batch(throughput: dict) -> str:
    return max(throughput, key=lambda size: throughput[size])


def decision_rows(records: dict) -> list[dict]:
    """The registry as table rows, with the compared figures and the outcome read from `records`
    (file name in model/ -> parsed JSON)."""
    from .filters import figure

    def show(path: str) -> str:
        value = registry.resolve(path, records)
        if value is registry.MISSING or (isinstance(value, list) and registry.MISSING in value):
            return "not recorded yet"
        return figure(value)

    rows = []
    for d in registry.decisions():
        outcome = show(d.outcome)
        rows.append({"decision": d, "rule": renamed_sets(d.rule, d.set_names), "reads": renamed_sets(d.reads, d.set_names),
                     "compared": [(renamed_sets(label, d.set_names), show(path)) for label, path in d.compared.items()],
                     "outcome": f"{d.outcome_label}: {outcome}" if d.outcome_label else outcome,
                     "renamed": " and ".join(d.set_names.values())})
    return rows


def renamed_sets(text: str, set_names: dict) -> str:
    """`text` with each old set letter (a whole word) shown by today's short name: a rule written
    when the LGG source was called C reads "A, B and LGG" in the documents, as written otherwise."""
    for old, new in set_names.items():
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return text


#: How the documents name each set: its short name in braintumor/configs/datasets.toml (A this
#: dataset, B the four-class clinical set, C the outside scans, LGG the FLAIR slices), by
#: `sources.LOADERS` name (and "outside").
SOURCE_NAMES = {key: dataset["short"] for key, dataset in configs.datasets().items()}

#: How the documents name the sets the A + LGG study scored and its input check fired on.
SITE_SETS = {"brain-tumor_test": "A's test rows", "lgg_test": "the LGG test rows", "lgg_val": "the LGG validation rows",
             "outside": f"{configs.datasets()['outside']['long']} ({SOURCE_NAMES['outside']})", "extra_all": "every row of set B (collection-confounded)"}


def site_table(record: dict) -> dict:
    """The held-out-site study as the documents show it: `variants` (those with a row, in
    `site_study.VARIANTS` order), `rows` (per held-out site: its row count, the single-source
    model's figures on those rows, and each variant's row or None while it has not run),
    `recipe_variant` (the variant the A + LGG model is or will be: the trained one, else the
    picked candidate, else the first with a row) and `missing` (variant-site pairs not run yet).
    A key the record must hold and does not stops the render (KeyError)."""
    single = record["single_source"]
    rows = record.get("rows", [])
    seen = {row["variant"] for row in rows}
    variants = [v for v in site_study.VARIANTS if v in seen] + sorted(seen - set(site_study.VARIANTS))
    if not variants:
        variants = list(site_study.VARIANTS)
    table, missing = [], []
    for site in site_study.HELD_OUT_SITES:
        cells = {}
        for variant in variants:
            found = [row for row in rows if row["variant"] == variant and row["held_out_site"] == site]
            cells[variant] = found[-1] if found else None
            if not found:
                missing.append(f"{variant} without {site}")
        table.append({"site": site, "n": single["held_out"][site]["n"], "single": single["held_out"][site], "cells": cells})
    if "final" in record:
        recipe_variant = record["final"]["variant"]
    elif "pick" in record:
        recipe_variant = record["pick"]["candidate"]
    else:
        recipe_variant = variants[0]
    return {"variants": variants, "rows": table, "recipe_variant": recipe_variant, "missing": missing,
            "single_main_accuracy": single["validation"]["brain-tumor"]["accuracy"]}


def environment(looks=None) -> Environment:
    """The renderer's settings; `looks` the disclosure the documents count (default: that of the
    committed records, `disclosure.COMMITTED`)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(FILTERS)
    env.globals.update(VIEWS)
    env.globals.update(
        MODEL_ORDER=MODEL_ORDER, HELD_OUT_COLUMNS=HELD_OUT_COLUMNS, CHECK_SCHEDULE=CHECK_SCHEDULE, RECIPES=RECIPES,
        CHECK_FLOORS=load_floors(), WEIGHTING_WORDS=WEIGHTING_WORDS, cv_labels=cv_labels, cv_complete=cv_complete,
        shipped_cv_model=shipped_cv_model, shipped_cv_variant=shipped_cv_variant,
        study_sources=study_sources, study_variant=study_variant, best_batch=best_batch,
        disclosure=looks if looks is not None else disclosure.COMMITTED, SOURCE_NAMES=SOURCE_NAMES,
        STUDIES=configs.study_names(),
        model_dirs={name: configs.model_dir(name).as_posix() for name in configs.NAMES},
        SITE_SETS=SITE_SETS, site_table=site_table, HELD_OUT_SITES=site_study.HELD_OUT_SITES,
        SITE_MODEL=site_study.MODEL_NAME, NO_VARIANT_QUALIFIED=site_study.NO_VARIANT_QUALIFIED,
        SITE_MAX_LOSS_POINTS=registry.decision("site_pick").parameters["max_main_accuracy_loss_points"],
        POOLED_THRESHOLD_RULE=registry.decision("pooled_threshold").rule,
        SCOPE_SET_NAMES={"brain-tumor_test": "A test", "lgg_test": "LGG test", "outside": "C",
                         "lgg-t1pre_test": "LGG T1", "lgg-t1post_test": "LGG T1 post-contrast"})
    return env


def _read(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def load_records(model_dir: str | Path = config.MODEL_DIR) -> dict:
    """The records the documents read beside metrics.json: the cross-validations, the source
    study, the leave-one-source-out and held-out-site studies, the peer comparison, the
    benchmark, the run costs, the error analysis's figures, and every JSON file of `model_dir`
    by name (for the decisions table and the disclosure's counts)."""
    model_dir = Path(model_dir)
    files = {path.name: json.loads(path.read_text()) for path in sorted(model_dir.glob("*.json"))}
    return {"cv": files.get("cv_results.json"), "cv_all": files.get("cv_all_scans.json"),
            "study": files.get("source_study.json"), "benchmark": files.get("benchmark.json"),
            "costs": files.get("run_costs.json"), "analysis": files.get(ANALYSIS_FILE), "files": files,
            "loso": files.get("loso_study.json"), "site": files.get(site_study.RECORD_FILE),
            "peer": files.get(disclosure.PEER_RECORD), "onnx_stages": files.get(ONNX_STAGES_FILE),
            "new_scans": files.get(disclosure.NEW_SCANS_RECORD), "scope": _scope_record(files)}


def _scope_record(files: dict) -> dict | None:
    """The scope study whose pick `predict`'s default ships: the second (`scope_sequence_cnn`) once
    it has picked, else the first (`scope_check`)."""
    second = files.get(disclosure.SCOPE_RECORD) or {}
    return second if second.get("pick") else files.get("scope_study.json")


def context(metrics: dict, records: dict, analysis: dict | None = None) -> dict:
    """Everything a template may read. `analysis` (default: the recorded one) holds
    `misclassified`, `heat`, `map_width`, `near`, `input_check` and `outside_scored`; `files`
    every record of model/ by file name (docs/studies.md reads the studies' own records there)."""
    analysis = analysis if analysis is not None else records.get("analysis")
    if analysis is None:
        raise ValueError(f"no error-analysis figures: run erroranalysis.ipynb (it writes model/{ANALYSIS_FILE})")
    given = records.get("files")
    files = {**(given or {}), "metrics.json": metrics}
    # the looks counted from these records; records without their files (a test's) count the committed ones
    looks = disclosure.for_records(given) if given is not None else disclosure.COMMITTED
    cv, cv_all = records.get("cv"), records.get("cv_all")
    return {"m": metrics, "test": metrics["test"], "training": metrics["training"],
            "shipped": metrics["models"]["improved_cnn"], "outside": metrics["models"]["improved_cnn"].get("outside"),
            "cv": cv, "cv_all": cv_all, "hcv": headline_cv(cv, cv_all), "study": records.get("study"),
            "benchmark": records.get("benchmark"), "costs": records.get("costs"), "a": analysis,
            "decisions": decision_rows(files), "loso": records.get("loso"),
            "loso_caps": {"train": loso.TRAIN_CAP, "val": loso.VAL_CAP},
            "configs": configs.all_configs(), "datasets": configs.datasets(),
            "roles": roles.table(), "default_entry": roles.default_entry(),
            "site": records.get("site"), "peer": records.get("peer"), "disclosure": looks,
            "new_scans": views.new_scans_table(records["new_scans"]) if records.get("new_scans") else None,
            "onnx_stages": records.get("onnx_stages"), "files": files, "scope": records.get("scope")}


def render(template: str, **values) -> str:
    """One template (a name under `templates/`) filled with `values`."""
    return environment().get_template(template).render(**values)


def render_documents(metrics: dict, records: dict, analysis: dict | None = None) -> dict[str, str]:
    """Every document of `DOCUMENTS`, as text."""
    values = context(metrics, records, analysis)
    env = environment(values["disclosure"])
    return {name: env.get_template(template).render(**values).rstrip() + "\n" for name, template in DOCUMENTS.items()}


def write_documents(metrics: dict, records: dict, analysis: dict | None = None, out: str | Path | None = None) -> list[Path]:
    """Render every document and write each atomically under `out` (default: `config.output_root()`)."""
    out = Path(out if out is not None else config.output_root())
    written = []
    for name, text in render_documents(metrics, records, analysis).items():
        path = out / name
        atomic_write(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
        written.append(path)
    return written


# ------------------------------------------------------------------ fragments the notebooks print

def macro(name: str, *args) -> str:
    """One macro of the shared templates (`templates/_<subject>.md.j2`, a paragraph or a table)
    called with `args`, as text."""
    env = environment()
    for path in sorted(TEMPLATES.glob("_*.md.j2")):
        module = env.get_template(path.name).make_module()
        if hasattr(module, name):
            return str(getattr(module, name)(*args)).strip()
    raise KeyError(f"no macro {name!r} in {TEMPLATES}/_*.md.j2")


def matched_cv_sentences(matched_cv: dict | None) -> str:
    """The cross-validated matched-pair figures and the decisions taken on them, as the documents word them."""
    return macro("matched_cv_sentences", matched_cv)


def gradcam_reading(heat: dict, map_width: int) -> str:
    """The documents' reading of the Grad-CAM shares (`analysis.gradcam_heat_summary`)."""
    return macro("gradcam_reading", heat, map_width)


def main(argv: list[str] | None = None) -> int:
    """Render the documents into the output root (or the folder given) from its metrics.json and
    error-analysis figures and the committed records in `model/`."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else config.output_root()
    metrics = json.loads((root / config.METRICS_PATH).read_text())
    analysis = _read(root / config.MODEL_DIR / ANALYSIS_FILE)
    for path in write_documents(metrics, load_records(config.MODEL_DIR), analysis, out=root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
