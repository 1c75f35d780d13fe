"""One folder per model, as a MONAI bundle or a Hugging Face model folder:
`model/<name>/` for the models the notebooks train and `predict` offers, and
`model/studies/<name>/` for the study records. Each holds

* `config.toml`: every value training reads, written out: the architecture (builder and
  keywords), the recipe (with the check schedule as an override), the training sources and
  their rows, the weighting, the members and the seed, the threshold and input rules, what the
  model is for (`[role]`) and how it came to be (`[provenance]`);
* `model.keras` and its ONNX export `model.onnx`;
* `card.json`: the threshold and the rule that set it, the input-check rule, the weights'
  digest, where and how fast it trained, and its scores (`models.cards`).

Training (`models.training`), `predict`, the wheel (setup.py) and the documents read the
folder and nothing else; `git log model/<name>/config.toml` is the model's history. A study
that picks a variant writes the picked model's whole `config.toml`; the decision registry
(braintumor/decisions.toml) keeps why.

The registries that are not a model's (the datasets, the studies' names, which model is
`predict`'s default, the check floors) stay in braintumor/configs/ (`folder`).

No TensorFlow: reading a configuration imports nothing heavy.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from .. import config

#: The registries beside the package (datasets, studies, the default model's key, check floors);
#: `BRAIN_TUMOR_CONFIGS` (or a `directory` argument) points at a scratch copy.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
CONFIG_ENV_VAR = "BRAIN_TUMOR_CONFIGS"

#: The model folders' root: the clone's model/, else (an installed package) the copies the wheel
#: carries; `BRAIN_TUMOR_MODELS` (or a `root` argument) points at a scratch copy.
MODELS_ENV_VAR = "BRAIN_TUMOR_MODELS"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "shipped_models"
STUDY_RECORDS = "studies"  # model/studies/<name>/: the study records' folders

CONFIG_FILE = "config.toml"
CARD_FILE = "card.json"
KERAS_FILE = "model.keras"
ONNX_FILE = "model.onnx"

#: The models, in the order the documents list them.
NAMES = ("single-source", "new-scans", "reference", "two-source", "all-source", "a-lgg")

DATASETS_FILE = "datasets.toml"
STUDIES_FILE = "studies.toml"
SCHEDULES = ("full", "check")


def folder(directory: str | os.PathLike | None = None) -> Path:
    """The folder the registries (datasets, studies, default model, check floors) are read from."""
    return Path(directory or os.environ.get(CONFIG_ENV_VAR) or CONFIG_DIR)


def models_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the model folders: `root`, else $BRAIN_TUMOR_MODELS, else the clone's
    model/ (relative to the repository root), else the installed package's copies."""
    if root or os.environ.get(MODELS_ENV_VAR):
        return Path(root or os.environ[MODELS_ENV_VAR])
    if (config.REPO_ROOT / config.MODEL_DIR).is_dir():
        return config.MODEL_DIR
    return SHIPPED_DIR


def _absolute(path: Path) -> Path:
    return path if path.is_absolute() else config.REPO_ROOT / path


def model_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """Model `name`'s folder: <root>/<name>/, or <root>/studies/<name>/ for a study record.
    Relative to the repository root when it lies in the clone (as documents and outputs show it)."""
    base = models_root(root)
    for candidate in (base / name, base / STUDY_RECORDS / name):
        if (_absolute(candidate) / CONFIG_FILE).is_file():
            return candidate
    raise KeyError(f"no model folder {name!r} with a {CONFIG_FILE} under '{base}' (nor '{base / STUDY_RECORDS}'); "
                   f"known: {', '.join(NAMES)}")


def load_config(name: str, root: str | os.PathLike | None = None) -> dict:
    """Model `name`'s `config.toml`, as written (TOML parsed)."""
    path = _absolute(model_dir(name, root)) / CONFIG_FILE
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    if written.get("name") != name:
        raise ValueError(f"{path} names itself {written.get('name')!r}, not {name!r}")
    return written


def training_recipe(name: str, schedule: str = "full", root: str | os.PathLike | None = None) -> dict:
    """The keywords `networks.train` gets for model `name` on `schedule`: the recipe as written,
    and for "check" the configuration's check override on top."""
    recipe = dict(load_config(name, root)["recipe"])
    overrides = recipe.pop("schedules", {})
    return {**recipe, **schedule_override(name, schedule, root, overrides)}


def schedule_override(name: str, schedule: str = "check", root: str | os.PathLike | None = None,
                      overrides: dict | None = None) -> dict:
    """What `schedule` changes in model `name`'s recipe (empty for "full")."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: use 'full' or 'check'")
    if schedule == "full":
        return {}
    if overrides is None:
        overrides = load_config(name, root)["recipe"].get("schedules", {})
    return dict(overrides.get(schedule, {}))


def architecture(name: str, root: str | os.PathLike | None = None) -> dict:
    """The builder keywords of model `name` (lists as tuples, as `build_improved_cnn` takes them)."""
    keywords = load_config(name, root)["architecture"]["keywords"]
    return {key: tuple(value) if isinstance(value, list) else value for key, value in keywords.items()}


def builder(name: str, root: str | os.PathLike | None = None) -> str:
    """The `models` function that builds model `name`."""
    return load_config(name, root)["architecture"]["builder"]


def training_sources(name: str, root: str | os.PathLike | None = None) -> tuple[str, ...]:
    return tuple(load_config(name, root)["training"]["sources"])


def row_caps(name: str, root: str | os.PathLike | None = None) -> dict[str, dict]:
    """Per training source, {"train": cap, "val": cap}: an int caps that split (a class-stratified
    sample), None takes every row ("all" in the file)."""
    rows = load_config(name, root)["training"]["rows"]
    return {source: {split: None if value == "all" else int(value) for split, value in caps.items()}
            for source, caps in rows.items()}


def model_file(name: str, root: str | os.PathLike | None = None) -> Path:
    """The `.keras` file of model `name` (relative to the repository root when in the clone)."""
    return model_dir(name, root) / KERAS_FILE


def all_configs(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every model's configuration, by name (what the documents read)."""
    return {name: load_config(name, root) for name in NAMES}


def _table(file_name: str, directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """A TOML table kept beside the package's registries, read as it is."""
    return tomllib.loads((folder(directory) / file_name).read_text(encoding="utf-8"))


def datasets(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """The datasets' record (`datasets.toml`): per dataset its Kaggle name, title, role, counts."""
    return _table(DATASETS_FILE, directory)


def study_names(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """The studies' table (`studies.toml`): per study (the NAME of `python -m braintumor study
    NAME`) the title every document uses, the question it asks, its record and Makefile target."""
    return _table(STUDIES_FILE, directory)


def write_setting(name: str, table: str, key: str, value: str | bool | int | float, note: str,
                  root: str | os.PathLike | None = None) -> Path:
    """Set `key = value` in `[table]` of model `name`'s `config.toml`, with `note` as its
    comment: how a study writes the configuration of the variant it picks, so that the folder
    says how its model is made. Every other line (and comment) stays as written; the key must
    already be in the table (a study changes a setting, it does not invent one). The file is
    rewritten whole or not at all, and must parse to the same configuration but that value."""
    import json
    import re

    from ..files import atomic_write

    path = _absolute(model_dir(name, root)) / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    before = tomllib.loads(text)
    lines, current, hits = text.splitlines(keepends=True), None, []
    for number, line in enumerate(lines):
        header = re.match(r"\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if header:
            current = header.group(1).strip()
        elif current == table and re.match(rf"\s*{re.escape(key)}\s*=", line):
            hits.append(number)
    if len(hits) != 1:
        raise KeyError(f"{path}: [{table}] {key} is written {len(hits)} times; a study sets a key written once")
    lines[hits[0]] = f"{key} = {json.dumps(value)}  # {note}\n"
    rewritten = "".join(lines)
    after = tomllib.loads(rewritten)
    expected = {**before, table: {**before.get(table, {}), key: value}}
    if after != expected:
        raise ValueError(f"{path}: setting [{table}] {key} changed more than that value; left as it was")
    atomic_write(path, lambda tmp: tmp.write_text(rewritten, encoding="utf-8"))
    return path
