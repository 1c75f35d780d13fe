"""One configuration per shipped model (`braintumor/configs/<name>.toml`), as a MONAI bundle's
`configs/` or a Hugging Face `config.json`: the architecture (builder and keywords), the recipe
(with the check schedule as an override), the training sources and their row selection, the
threshold and input rules, and the files it produces.

The notebooks and study scripts train from here, `models.specs.SPECS` is built from here, and
the model card names each model from here. A search or a study writes candidates; the rule that
ships one fixes the configuration (tests/test_configs.py checks each file against its rule's
pick), so `git log braintumor/configs/<name>.toml` is that model's history.

No TensorFlow: reading a configuration imports only the decision registry.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from ..decisions import decision

#: Where the configurations live; `BRAIN_TUMOR_CONFIGS` (or a `directory` argument) points the
#: loader at another folder, e.g. a scratch copy with one setting changed.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
CONFIG_ENV_VAR = "BRAIN_TUMOR_CONFIGS"

#: The shipped models, in the order the documents list them.
NAMES = ("single-source", "two-source", "all-source", "a-lgg", "new-scans")

#: The file of the datasets' record beside the configurations (names, counts, citations).
DATASETS_FILE = "datasets.toml"

#: The studies' names, questions, records and Makefile targets, beside the configurations.
STUDIES_FILE = "studies.toml"

SCHEDULES = ("full", "check")

#: A recipe value "decision:NAME" is fixed by a rule: it is that decision's parameter of the same
#: key in braintumor/decisions.toml (the code applies the rule's parameter, not a copy of it).
DECIDED = "decision:"


def folder(directory: str | os.PathLike | None = None) -> Path:
    """The folder the configurations are read from."""
    return Path(directory or os.environ.get(CONFIG_ENV_VAR) or CONFIG_DIR)


def load_config(name: str, directory: str | os.PathLike | None = None) -> dict:
    """The configuration of the model called `name`, as written (TOML parsed)."""
    path = folder(directory) / f"{name}.toml"
    if not path.is_file():
        raise KeyError(f"no configuration {path.name} in {path.parent}; known: {', '.join(NAMES)}")
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    if config.get("name") != name:
        raise ValueError(f"{path} names itself {config.get('name')!r}, not {name!r}")
    return config


def training_recipe(name: str, schedule: str = "full", directory: str | os.PathLike | None = None) -> dict:
    """The keywords `networks.train` gets for model `name` on `schedule`: the configuration's
    recipe, the values a rule fixes ("decision:NAME") read from the decision registry, and for "check" the
    configuration's check override on top."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: use 'full' or 'check'")
    recipe = dict(load_config(name, directory)["recipe"])
    overrides = recipe.pop("schedules", {})
    recipe = {key: _decided(key, value) for key, value in recipe.items()}
    if schedule != "full":
        recipe.update(overrides.get(schedule, {}))
    return recipe


def _decided(key: str, value):
    """A recipe value as written, or, for "decision:NAME", that decision's parameter `key`."""
    if isinstance(value, str) and value.startswith(DECIDED):
        return decision(value[len(DECIDED):]).parameters[key]
    return value


def schedule_override(name: str, schedule: str = "check", directory: str | os.PathLike | None = None) -> dict:
    """What `schedule` changes in model `name`'s recipe (empty for "full")."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: use 'full' or 'check'")
    if schedule == "full":
        return {}
    return dict(load_config(name, directory)["recipe"].get("schedules", {}).get(schedule, {}))


def architecture(name: str, directory: str | os.PathLike | None = None) -> dict:
    """The builder keywords of model `name` (lists as tuples, as `build_improved_cnn` takes them)."""
    keywords = load_config(name, directory)["architecture"]["keywords"]
    return {key: tuple(value) if isinstance(value, list) else value for key, value in keywords.items()}


def builder(name: str, directory: str | os.PathLike | None = None) -> str:
    """The `models` function that builds model `name`."""
    return load_config(name, directory)["architecture"]["builder"]


def training_sources(name: str, directory: str | os.PathLike | None = None) -> tuple[str, ...]:
    return tuple(load_config(name, directory)["training"]["sources"])


def row_caps(name: str, directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """Per training source, {"train": cap, "val": cap}: an int caps that split (a class-stratified
    sample), None takes every row ("all" in the file)."""
    rows = load_config(name, directory)["training"]["rows"]
    return {source: {split: None if value == "all" else int(value) for split, value in caps.items()}
            for source, caps in rows.items()}


def model_file(name: str, directory: str | os.PathLike | None = None) -> Path:
    """The `.keras` file model `name` produces, relative to the repository root."""
    return Path(load_config(name, directory)["files"]["model"])


def all_configs(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every shipped model's configuration, by name (what the documents read)."""
    return {name: load_config(name, directory) for name in NAMES}


def _table(file_name: str, directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """A TOML table kept beside the configurations, read as it is."""
    return tomllib.loads((folder(directory) / file_name).read_text(encoding="utf-8"))


def datasets(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """The datasets' record (`datasets.toml`): per dataset its Kaggle name, title, role, counts."""
    return _table(DATASETS_FILE, directory)


def study_names(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """The studies' table (`studies.toml`): per study (the NAME of `python -m braintumor study
    NAME`) the title every document uses, the question it asks, its record and Makefile target."""
    return _table(STUDIES_FILE, directory)
