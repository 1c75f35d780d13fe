"""The registry of decisions made by rules written in advance (`decisions.toml`).

Core layer: it imports nothing from the package, so `models/` and `evaluation/` read their
rules' text and parameters from here, and `reports/` renders the same entries as
`docs/decisions.md`. The figures a rule compared and its outcome are not stored here: they
are read from the records in `model/` (`resolve`) when a document is rendered.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REGISTRY_PATH = Path(__file__).with_name("decisions.toml")

#: What every entry must carry (see the registry's header comment); the rest is optional.
REQUIRED_KEYS = ("name", "title", "rule", "reads", "records", "commit", "applied_by", "outcome")


@dataclass(frozen=True)
class Decision:
    name: str
    title: str
    rule: str  # the rule's text with its parameters filled in
    reads: str
    records: tuple[str, ...]
    commit: str
    applied_by: str
    outcome: str  # "FILE:KEY path" of the recorded outcome
    outcome_label: str = ""
    parameters: dict = field(default_factory=dict)
    compared: dict = field(default_factory=dict)  # label -> "FILE:KEY path"
    written: str = ""  # when the text was written, where that was after the figures it reads
    set_names: dict = field(default_factory=dict)  # old set letter -> today's short name, for display


def parse(text: str) -> tuple[Decision, ...]:
    """The decisions of a registry's TOML text; a malformed entry stops with its name."""
    entries = tomllib.loads(text).get("decision", [])
    seen, out = set(), []
    for entry in entries:
        missing = [key for key in REQUIRED_KEYS if key not in entry]
        if missing:
            raise ValueError(f"decision {entry.get('name', '?')!r} lacks {', '.join(missing)}")
        if entry["name"] in seen:
            raise ValueError(f"decision {entry['name']!r} is listed twice")
        seen.add(entry["name"])
        parameters = dict(entry.get("parameters", {}))
        try:
            rule = entry["rule"].format(**parameters)
        except (KeyError, IndexError) as error:
            raise ValueError(f"decision {entry['name']!r}: the rule names {error} but its parameters do not") from None
        out.append(Decision(
            name=entry["name"], title=entry["title"], rule=rule, reads=entry["reads"],
            records=tuple(entry["records"]), commit=str(entry["commit"]), applied_by=entry["applied_by"],
            outcome=entry["outcome"], outcome_label=entry.get("outcome_label", ""), parameters=parameters,
            compared=dict(entry.get("compared", {})), written=entry.get("written", ""),
            set_names=dict(entry.get("set_names", {}))))
    return tuple(out)


@lru_cache(maxsize=1)
def decisions() -> tuple[Decision, ...]:
    """Every registered decision, in the order the rules were written."""
    return parse(REGISTRY_PATH.read_text(encoding="utf-8"))


def decision(name: str) -> Decision:
    """One decision by name (`decision("flip_average").parameters["min_gain"]`)."""
    for entry in decisions():
        if entry.name == name:
            return entry
    raise KeyError(f"no decision {name!r} in {REGISTRY_PATH.name}; known: {', '.join(d.name for d in decisions())}")


class Missing:
    """A figure a path names that is not (yet) in the records."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


def _walk(value, keys: list[str]):
    if not keys:
        return value
    key, rest = keys[0], keys[1:]
    if key == "*":
        if not isinstance(value, list):
            return MISSING
        return [_walk(item, rest) for item in value]
    if isinstance(value, list):
        try:
            return _walk(value[int(key)], rest)
        except (ValueError, IndexError):
            return MISSING
    if isinstance(value, dict) and key in value:
        return _walk(value[key], rest)
    return MISSING


def resolve(path: str, records: dict):
    """The value at "FILE:KEY.path" in `records` (file name in model/ -> its parsed JSON), or MISSING."""
    file, _, keys = path.partition(":")
    if file not in records:
        return MISSING
    return _walk(records[file], keys.split(".") if keys else [])


def read_records(model_dir: str | Path, names) -> dict:
    """The JSON files of `model_dir` that the paths in `names` ("FILE:KEY") point into."""
    model_dir = Path(model_dir)
    out = {}
    for name in {path.partition(":")[0] for path in names}:
        file = model_dir / name
        if file.is_file():
            out[name] = json.loads(file.read_text())
    return out


def paths() -> list[str]:
    """Every record path the registry names (outcomes and compared figures)."""
    return [path for d in decisions() for path in (d.outcome, *d.compared.values())]
