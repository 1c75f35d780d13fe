"""The package's layering: no import circle, no import from a lower layer to a higher one,
and no module over 450 lines.

Layers, lowest first: core (config, files, machine, decisions) < data < models < evaluation
< studies (rows trained and scored by a written rule) < reports < command line (the `predict` package and its modules, cli, __main__, notebook_runner). A module may
import its own layer or any lower one; imports inside functions count too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "braintumor"
MAX_LINES = 450
CORE = {"config", "files", "machine", "decisions"}
COMMAND_LINE = {"predict", "cli", "__main__", "notebook_runner"}  # `predict`: the package, every module of it
LAYERS = ("core", "data", "models", "evaluation", "studies", "reports", "command line")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    parts = module.split(".")[1:]
    if not parts:
        return 0  # the package's __init__
    top = parts[0]
    if top in CORE:
        return LAYERS.index("core")
    if top in COMMAND_LINE:
        return LAYERS.index("command line")
    return LAYERS.index(top)


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every package module `module` imports (absolute or relative, anywhere in the file)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def test_the_import_walk_sees_relative_and_nested_imports():
    mods = set(modules())
    assert "braintumor.decisions" in imports("braintumor.models.recipes", PACKAGE / "models" / "recipes.py", mods)
    assert "braintumor.evaluation.records" in imports("braintumor.reports.render", PACKAGE / "reports" / "render.py",
                                                      mods)


def test_no_module_imports_a_higher_layer():
    climbing = [f"{module} ({LAYERS[layer(module)]}) imports {target} ({LAYERS[layer(target)]})"
                for module, targets in graph().items() for target in targets
                if layer(target) > layer(module) and module != "braintumor"]
    assert not climbing, "\n".join(climbing)


def test_no_import_circle():
    edges = {module: {t for t in targets if not module.startswith(t + ".")}  # a module importing its own package
             for module, targets in graph().items()}
    # a package's __init__ re-exporting its modules is part of that package, not a circle through it
    state, stack, circles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not circles, "\n".join(circles)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_450_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES
