"""No literal copy of a model's configuration outside braintumor/configs/: code reads the
architecture and the recipe from there (`models.configs`), so that one edit changes a model."""

import ast

from braintumor import config
from braintumor.models import configs

#: A dict literal is a copy when at least this many of its constant entries equal one
#: configuration's, and they are most of its constant entries.
MIN_SHARED = 4
MIN_SHARE = 0.8


def _configured_values() -> dict[str, set]:
    """Per model, its architecture keywords and full recipe as (key, value) pairs."""
    out = {}
    for name in configs.NAMES:
        pairs = {**configs.architecture(name), **configs.training_recipe(name, "full")}
        out[name] = {(key, tuple(value) if isinstance(value, list) else value) for key, value in pairs.items()}
    return out


def _constant_entries(node: ast.Dict) -> set:
    entries = set()
    for key, value in zip(node.keys, node.values):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            try:
                literal = ast.literal_eval(value)
            except ValueError:
                continue
            literal = tuple(literal) if isinstance(literal, list) else literal
            try:
                entries.add((key.value, literal))
            except TypeError:  # a dict or a nested list: not a configuration value
                continue
    return entries


def copies_in(source: str, configured: dict[str, set]) -> list[tuple[int, str]]:
    """(line, model) for each dict literal in `source` that copies a configuration."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            entries = _constant_entries(node)
            for name, pairs in configured.items():
                shared = entries & pairs
                if len(shared) >= MIN_SHARED and len(shared) >= MIN_SHARE * len(entries):
                    found.append((node.lineno, name))
    return found


def test_the_scan_finds_a_copied_architecture():
    copied = 'BASE = {"resolution": 128, "widths": [16, 32, 64, 128, 128], "head": "flatten", "dense_units": [64]}'
    assert copies_in(copied, _configured_values())
    assert not copies_in('RECIPE = {"max_epochs": 20, "patience": 3, "batch_size": 32, "learning_rate": 1e-3}',
                         _configured_values())


def test_no_code_copies_a_configuration():
    configured = _configured_values()
    folders = [config.REPO_ROOT / "braintumor", config.REPO_ROOT / "scripts", config.REPO_ROOT / "bench"]
    found = {}
    for folder in folders:
        for path in folder.rglob("*.py"):
            hits = copies_in(path.read_text(encoding="utf-8"), configured)
            if hits:
                found[str(path.relative_to(config.REPO_ROOT))] = hits
    assert not found, f"literal copies of a configuration (read it with braintumor.models.configs instead): {found}"
