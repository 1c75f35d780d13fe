"""Build step of `pip install .`: the wheel carries the shipped models, so that `braintumor
predict` works from any folder (pyproject.toml holds the rest of the packaging).

Into the built package's `braintumor/shipped_models/` go the ONNX export of every model of
`braintumor.models.specs.SPECS` that has one under model/, and a metrics.json holding, for
each, its name, threshold and input-check rule, read at build time from model/metrics.json
("model_files" entry of the spec's file, else the spec's `metrics_key` entry): no second
copy of those figures is kept in the repository. `braintumor.predict.models` reads them
when the model is not found in a clone. An editable install (`pip install -e .`) reads the
clone's model/ and needs none of this.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = "shipped_models"  # `braintumor.predict.models.SHIPPED_DIR`


def shipped_bundle(root: Path = ROOT) -> tuple[list[Path], dict]:
    """(the ONNX files to ship, the metrics.json for them: {"model_files": {<file>.onnx:
    {name, threshold, input_check}}}), from `SPECS` and model/metrics.json under `root`."""
    sys.path.insert(0, str(root))
    try:
        from braintumor import config
        from braintumor.models.specs import SPECS
    finally:
        sys.path.remove(str(root))
    metrics = json.loads((root / config.METRICS_PATH).read_text(encoding="utf-8"))
    files, entries = [], {}
    for spec in SPECS.values():
        onnx = root / Path(spec.file).with_suffix(".onnx")
        if not onnx.is_file():
            print(f"setup.py: {spec.name}: no {onnx.relative_to(root)}, not shipped", file=sys.stderr)
            continue
        settings = metrics.get("model_files", {}).get(Path(spec.file).name) or metrics.get(spec.metrics_key) or {}
        entries[onnx.name] = {"name": spec.name,
                              **{key: settings[key] for key in ("threshold", "input_check") if key in settings}}
        files.append(onnx)
    return files, {"model_files": entries}


class BuildWithModels(build_py):
    """setuptools' build_py, then the shipped models copied into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "braintumor" / SHIPPED
        target.mkdir(parents=True, exist_ok=True)
        files, metrics = shipped_bundle()
        for path in files:
            shutil.copyfile(path, target / path.name)
        (target / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")


setup(cmdclass={"build_py": BuildWithModels})
