"""The dependency set: Python 3.11 everywhere, a hashed lock generated from the human-readable
pins, every runtime pin used by the package, test-only packages kept apart, and TensorFlow's
build chosen by platform markers (so that macOS arm64 and Linux aarch64 resolve)."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "braintumor"

#: Pinned but not imported by the package, each with the reason requirements.txt gives.
NOT_IMPORTED = {
    "notebook": "Jupyter opens",
    "ipykernel": "their kernel",
    "tf2onnx": "Keras's model.export loads tf2onnx",
}

#: Environments of the platforms a researcher's laptop or server may be.
PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_machine": "x86_64", "os_name": "posix"},
    "macos-arm64": {"sys_platform": "darwin", "platform_machine": "arm64", "os_name": "posix"},
    "linux-aarch64": {"sys_platform": "linux", "platform_machine": "aarch64", "os_name": "posix"},
}


def _pins(path: Path) -> list[Requirement]:
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _lock(path: Path) -> dict[str, list[tuple[str, Marker | None, int]]]:
    """name -> [(version, marker, number of hashes)] of a `uv pip compile --generate-hashes` lock."""
    entries: dict[str, list] = {}
    text = path.read_text(encoding="utf-8")
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = block.splitlines()[0]
        match = re.match(r"^([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)==([^\s;\\]+)\s*(?:;\s*([^\\]+))?", head)
        if match:
            name = re.sub(r"\[.*\]", "", match[1]).lower().replace("_", "-")
            marker = Marker(match[3].strip()) if match[3] else None
            entries.setdefault(name, []).append((match[2], marker, block.count("--hash=sha256:")))
    return entries


def _installed_on(lock: dict, platform: dict) -> dict[str, str]:
    environment = {"python_version": "3.11", "python_full_version": "3.11.7", "implementation_name": "cpython",
                   **platform}
    return {name: version for name, versions in lock.items()
            for version, marker, _ in versions if marker is None or marker.evaluate(environment)}


def _imported_modules(folder: Path) -> set[str]:
    modules = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def _distributions_imported(folder: Path) -> set[str]:
    by_module = packages_distributions()
    return {distribution.lower() for module in _imported_modules(folder) for distribution in by_module.get(module, ())}


def test_python_311_everywhere_and_no_tomli():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11"
    for path in [*PACKAGE.rglob("*.py"), ROOT / "pyproject.toml", ROOT / "setup.py",
                 *ROOT.glob("requirements*.txt"), *ROOT.glob("requirements*.lock")]:
        assert "tomli" not in path.read_text(encoding="utf-8").replace("tomllib", ""), path


def test_every_runtime_pin_is_imported_by_the_package():
    imported = _distributions_imported(PACKAGE)
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    for pin in _pins(ROOT / "requirements.txt"):
        name = pin.name.lower()
        if name in NOT_IMPORTED:
            assert NOT_IMPORTED[name] in requirements, f"requirements.txt does not say why {name} is pinned"
        elif name in ("tensorflow", "tensorflow-cpu"):
            assert "tensorflow" in _imported_modules(PACKAGE) or "keras" in _imported_modules(PACKAGE)
        else:
            assert name in imported, f"{name} is pinned in requirements.txt but the package never imports it"


def test_test_only_packages_are_in_the_test_extra_and_not_imported_by_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = project["project"]["optional-dependencies"]
    test_extra = {Requirement(text).name.lower() for text in extras["test"]}
    runtime = {Requirement(text).name.lower() for text in project["project"]["dependencies"] + extras["research"]}
    dev = {pin.name.lower() for pin in _pins(ROOT / "requirements-dev.txt")}
    assert dev == test_extra and not dev & runtime
    assert not dev & _distributions_imported(PACKAGE)
    # nbval and pytest-xdist are pytest plugins: `make test` names them by their options, no test imports them.
    plugins = {"nbval": "--nbval", "pytest-xdist": "-n 2"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert all(option in makefile for option in plugins.values())
    assert dev - set(plugins) <= _distributions_imported(ROOT / "tests")


@pytest.mark.parametrize("lock_file", ["requirements.lock", "requirements-gpu.lock"])
def test_the_lock_holds_every_pin_at_its_version_with_hashes(lock_file):
    lock = _lock(ROOT / lock_file)
    assert len(lock) > 100  # the transitive set, not only the direct pins
    assert all(hashes >= 1 for versions in lock.values() for _, _, hashes in versions)
    for pin in _pins(ROOT / "requirements.txt") + _pins(ROOT / "requirements-dev.txt"):
        name = pin.name.lower()
        if lock_file == "requirements-gpu.lock" and name == "tensorflow-cpu":
            continue
        versions = [version for version, _, _ in lock[name]]
        assert [version for version in versions if pin.specifier.contains(version)], (name, versions)


def test_tensorflow_build_follows_the_platform():
    lock = _lock(ROOT / "requirements.lock")
    x86 = _installed_on(lock, PLATFORMS["linux-x86_64"])
    assert x86["tensorflow-cpu"] == "2.21.0" and "tensorflow" not in x86
    for platform in ("macos-arm64", "linux-aarch64"):
        chosen = _installed_on(lock, PLATFORMS[platform])
        assert chosen["tensorflow"] == "2.21.0" and "tensorflow-cpu" not in chosen, platform
        assert chosen["keras"] == "3.15.1" and chosen["onnxruntime"] == "1.32.0", platform
    assert _installed_on(lock, PLATFORMS["macos-arm64"]).get("appnope")  # a macOS-only package is kept for it


def test_the_gpu_lock_swaps_in_tensorflows_cuda_build_on_x86_64_only():
    lock = _lock(ROOT / "requirements-gpu.lock")
    x86 = _installed_on(lock, PLATFORMS["linux-x86_64"])
    assert x86["tensorflow"] == "2.21.0" and "tensorflow-cpu" not in x86
    assert any(name.startswith("nvidia-cudnn") for name in x86)
    assert not any(name.startswith("nvidia-") for name in _installed_on(lock, PLATFORMS["macos-arm64"]))
    cpu = _installed_on(_lock(ROOT / "requirements.lock"), PLATFORMS["linux-x86_64"])
    shared = set(cpu) & set(x86)
    assert {name for name in shared if cpu[name] != x86[name]} == set()  # only TensorFlow's build differs


def test_make_venv_installs_the_hashed_lock_and_checks_it():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes --no-deps -r $(LOCK)" in makefile
    assert "pip check" in makefile and re.search(r"^lock:", makefile, flags=re.M)
    assert not re.search(r"pip install[^\n]*-r requirements\.txt", makefile)
