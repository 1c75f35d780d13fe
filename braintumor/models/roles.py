"""What each shipped model is for: its role, read from the configurations.

A model's role is one of `ROLES`:

* ``default``: the one model `predict` uses when `--model` is not given. Exactly one, named by
  `braintumor/configs/default_model.toml` (its `name`), the outcome of the rule it names
  (`decided_by`). Changing the default is that line plus a re-render (`make docs`).
* ``alternative``: offered to `predict --model NAME`, for the scans its configuration's
  `[role] for_scans` names.
* ``study record``: kept for its figures (a study's model, or one trained on set B, which is
  evaluation only); not offered to `predict` by name, though its `.keras` path still runs.

`predict`, the CLI's help, the documents and the tests read the roles from here, not from a
constant of their own. No TensorFlow.
"""

from __future__ import annotations

import os
import tomllib
from . import configs

ROLES = ("default", "alternative", "study record")
#: What a configuration's `[role] kind` may say (the default is named in `DEFAULT_FILE` instead).
KINDS = ("alternative", "study record")
DEFAULT_FILE = "default_model.toml"


def default_entry(directory: str | os.PathLike | None = None) -> dict:
    """`default_model.toml` as written: {"name": the default model, "decided_by": its rule}."""
    path = configs.folder(directory) / DEFAULT_FILE
    entry = tomllib.loads(path.read_text(encoding="utf-8"))
    name = entry.get("name")
    if name not in configs.NAMES:
        raise ValueError(f"{path}: name = {name!r} is not a shipped model; choose one of {', '.join(configs.NAMES)}")
    kind = configs.load_config(name).get("role", {}).get("kind")
    if kind != "alternative":
        raise ValueError(f"{path}: {name!r} is a {kind!r} in its configuration, so it cannot be the default; "
                         f"name a model whose [role] kind is 'alternative'")
    return entry


def default_model(directory: str | os.PathLike | None = None) -> str:
    """The name of the model `predict` uses when `--model` is not given."""
    return default_entry(directory)["name"]


def for_scans(name: str) -> str:
    """What model `name`'s configuration says it is for (`[role] for_scans`)."""
    return configs.load_config(name)["role"]["for_scans"]


def role(name: str, directory: str | os.PathLike | None = None, default: str | None = None) -> str:
    """`name`'s role: "default", else its configuration's `[role] kind`; `default`: the default
    model's name when the caller has read it already (else it is read from `DEFAULT_FILE`)."""
    if name == (default or default_model(directory)):
        return "default"
    kind = configs.load_config(name).get("role", {}).get("kind")
    if kind not in KINDS:
        raise ValueError(f"{configs.model_dir(name) / configs.CONFIG_FILE}: [role] kind = {kind!r}; write one of {', '.join(KINDS)}")
    return kind


def roles(directory: str | os.PathLike | None = None) -> dict[str, str]:
    """{name: role} of every shipped model, the default first, then the alternatives, then the
    study records, each in `configs.NAMES` order (the key file and each configuration read once)."""
    default = default_model(directory)
    found = {name: role(name, directory, default) for name in configs.NAMES}
    return dict(sorted(found.items(), key=lambda item: ROLES.index(item[1])))


def offered(directory: str | os.PathLike | None = None) -> list[str]:
    """The names `predict --model` takes: the default first, then the alternatives in `configs.NAMES` order."""
    return [name for name, kind in roles(directory).items() if kind != "study record"]


def table(directory: str | os.PathLike | None = None) -> list[dict]:
    """Every shipped model as a row of the "which model for which scans" table: name, role,
    the scans it is for, its training sources (`sources.LOADERS` names) and its `.keras` file
    (in its folder, `model/<name>/model.keras`).
    Offered models first (the default leading), study records last."""
    rows = []
    for name, kind in roles(directory).items():
        written = configs.load_config(name)
        rows.append({"name": name, "role": kind, "for_scans": written["role"]["for_scans"],
                     "sources": list(written["training"]["sources"]), "file": str(configs.model_file(name))})
    return rows
