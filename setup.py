"""Build step of `pip install .`: the wheel carries the model folders, so that `braintumor
predict` works from any folder (pyproject.toml holds the rest of the packaging).

Every model folder under model/ (`model/<name>/`, `model/studies/<name>/`: its config.toml,
card.json and model.onnx, as they are) is copied into the built package's
`braintumor/shipped_models/`, where `braintumor.models.configs` and `braintumor.predict.models`
find them when the package is not in a clone. The `.keras` files stay behind: the light
install scores with ONNX Runtime and has no TensorFlow to read them. An editable install
(`pip install -e .`) reads the clone's model/ and needs none of this.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = "shipped_models"  # `braintumor.models.configs.SHIPPED_DIR`
CARRIED = ("config.toml", "card.json", "model.onnx")
#: Carried where a folder has them: the scope detector `predict` warns with (data/scope.py) and its network.
OPTIONAL = ("scope.json", "scope.onnx")


def model_folders(root: Path = ROOT) -> list[Path]:
    """Every folder under `root`/model/ that holds a config.toml, relative to model/."""
    models = root / "model"
    return sorted(path.parent.relative_to(models) for path in models.rglob("config.toml"))


def copy_folders(target: Path, root: Path = ROOT) -> list[Path]:
    """Copy each model folder's `CARRIED` files, and its `OPTIONAL` ones where it has them, under `target`; returns the files written."""
    written = []
    for folder in model_folders(root):
        for name in CARRIED:
            source = root / "model" / folder / name
            if not source.is_file():
                print(f"setup.py: model/{folder}: no {name}, not shipped", file=sys.stderr)
                continue
            (target / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / folder / name)
            written.append(target / folder / name)
        for name in OPTIONAL:
            if (root / "model" / folder / name).is_file():
                shutil.copyfile(root / "model" / folder / name, target / folder / name)
                written.append(target / folder / name)
    return written


class BuildWithModels(build_py):
    """setuptools' build_py, then the model folders copied into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        copy_folders(Path(self.build_lib) / "braintumor" / SHIPPED)


setup(cmdclass={"build_py": BuildWithModels})
