"""The light install (`pip install .`) runs every path it advertises, from any folder.

The package is built and installed the way `pip install .` does (setup.py's build step
included: the shipped models' ONNX exports and their thresholds go into the wheel), into a
temporary folder. Its dependencies are those its wheel declares (Requires-Dist), followed
through their own declarations and taken from this environment, linked into a second
folder; TensorFlow, Keras and everything else of the research environment are not on the
path at all (`python -S`: no site-packages). The run goes from a folder outside the clone,
with stderr on a terminal (tqdm's progress bar, a dependency of the light install), over one PNG, a folder of 150 scans, a DICOM
series and a NIfTI volume. About 10 s on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import fcntl
import shutil
import struct
import subprocess
import sys
import termios
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from braintumor import config
from braintumor.models import roles

pydicom = pytest.importorskip("pydicom")
nibabel = pytest.importorskip("nibabel")

ROOT = config.REPO_ROOT

_PROBE = """
import importlib.util, sys
import braintumor
from braintumor.cli import main
status = main(sys.argv[1:])
heavy = ("tensorflow", "keras", "scipy", "sklearn", "pandas", "matplotlib")
print("FROM", braintumor.__file__, [name for name in ("tensorflow", "keras") if importlib.util.find_spec(name)])
print("LOADED", sorted({name.split(".")[0] for name in sys.modules if name.split(".")[0] in heavy}), status)
"""


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    """The distributions `dist` needs here: its Requires-Dist without extras, markers evaluated."""
    from packaging.requirements import Requirement

    names = []
    for line in dist.requires or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def link_dependencies(wheel_dist: Path, target: Path) -> list[str]:
    """Link into `target` the installed files of every distribution the built package needs
    (its METADATA's Requires-Dist, then theirs, recursively); returns their names."""
    target.mkdir()
    todo = _requirement_names(metadata.PathDistribution(wheel_dist))
    seen: list[str] = []
    while todo:
        name = todo.pop()
        if name.lower() in seen:
            continue
        seen.append(name.lower())
        dist = metadata.distribution(name)
        site = Path(dist.locate_file(""))
        for top in {Path(str(file)).parts[0] for file in dist.files or [] if ".." not in Path(str(file)).parts}:
            if top.endswith(".pth") or top == "__pycache__" or not (site / top).exists() or (target / top).exists():
                continue
            (target / top).symlink_to(site / top)
        todo.extend(_requirement_names(dist))
    return seen


@pytest.fixture(scope="module")
def light_install(tmp_path_factory):
    """(site folder with the built package, folder with its dependencies only)."""
    work = tmp_path_factory.mktemp("light")
    source = work / "source"
    shutil.copytree(ROOT / "braintumor", source / "braintumor", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy(ROOT / name, source / name)
    # the model folders as a clone has them (setup.py leaves the .keras files behind)
    shutil.copytree(ROOT / config.MODEL_DIR, source / "model", ignore=shutil.ignore_patterns("*.keras"))
    site = work / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                            "--no-index", "--target", str(site), str(source)],
                           capture_output=True, text=True, timeout=300, cwd=work)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel_dist] = site.glob("braintumor-*.dist-info")
    dependencies = link_dependencies(wheel_dist, work / "deps")
    assert {"numpy", "pillow", "onnxruntime", "pydicom", "nibabel", "tqdm", "scipy"} <= set(dependencies)
    assert not {"tensorflow", "tensorflow-cpu", "keras"} & set(dependencies)
    return site, work / "deps"


def _inputs(folder: Path) -> list[Path]:
    """One PNG, a folder of 150 PNGs, a three-file DICOM series (pydicom's MR test file, at
    three heights), and nibabel's anatomical test volume."""
    from pydicom.uid import generate_uid

    folder.mkdir()
    mr = pydicom.dcmread(Path(pydicom.data.__file__).parent / "test_files" / "MR_small.dcm")
    grey = np.clip(mr.pixel_array / 8, 0, 255).astype(np.uint8)
    Image.fromarray(grey).resize((240, 240)).save(folder / "one.png")
    many = folder / "many"
    many.mkdir()
    rng = np.random.default_rng(0)
    for k in range(150):
        Image.fromarray(rng.integers(0, 256, (240, 240), dtype=np.uint8)).save(many / f"scan{k:03d}.png")
    series = folder / "series"
    series.mkdir()
    for k in range(3):
        mr.SOPInstanceUID = generate_uid()
        mr.ImagePositionPatient = [-83.9, -91.2, 6.6 + 5 * k]
        mr.save_as(series / f"im{k}.dcm")
    from nibabel.testing import data_path

    volume = folder / "anatomical.nii"
    shutil.copy(Path(data_path) / "anatomical.nii", volume)
    return [folder / "one.png", many, series, volume]


def test_light_install_scores_every_kind_outside_the_clone_without_tensorflow(light_install, tmp_path):
    site, deps = light_install
    paths = _inputs(tmp_path / "scans")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(deps)])
    leader, follower = os.openpty()  # stderr a terminal: the progress bar
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns, as a terminal has
    # stdout to a file, not a pipe: read after the terminal, a pipe would fill (64 KiB of
    # JSON lines) and stall the child while this side waits for the terminal to close
    with (tmp_path / "stdout.txt").open("w+") as stdout, \
            subprocess.Popen([sys.executable, "-S", "-c", _PROBE, "predict", "--json", *map(str, paths)],
                             cwd=elsewhere, env=env, stdout=stdout, stderr=follower, text=True) as child:
        os.close(follower)
        terminal = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            terminal += chunk
        child.wait(timeout=120)
        stdout.seek(0)
        out = stdout.read()
    os.close(leader)
    terminal = terminal.decode(errors="replace")

    *lines, origin, probe = out.splitlines()
    # SciPy (a dependency of the light install) only for the brain extraction's watershed, on a
    # slice with a brain inside a skull: the NIfTI volume's, where the default's card asks for
    # an extraction (tests/test_predict_startup.py: a noise scan imports none)
    extracts = json.loads((ROOT / config.MODEL_DIR / roles.default_model() / "card.json").read_text())["preprocessing"]
    assert probe == ("LOADED ['scipy'] 0" if extracts["brain_extraction"] != "none" else "LOADED [] 0"), terminal
    assert origin == f"FROM {site / 'braintumor' / '__init__.py'} []"  # the installed copy; no TensorFlow to find
    records = [json.loads(line) for line in lines]
    assert all(record["model"] == roles.default_model() and record["runtime"] == "onnx" for record in records)
    assert not any("error" in record or "skipped" in record for record in records)
    by_input = {path: [r for r in records if r["file"].startswith(str(path))] for path in paths}
    assert len(by_input[paths[0]]) == 1 and 0 <= by_input[paths[0]][0]["probability"] <= 1
    assert len(by_input[paths[1]]) == 150
    assert [r.get("slice") for r in by_input[paths[2]]] == [0, 1, 2, None]  # three slices, then the summary
    volume = by_input[paths[3]]
    assert volume[-1]["slices"] == len(volume) - 1 == 25  # anatomical.nii: 25 axial slices
    assert "Traceback" not in terminal and "note: no threshold" not in terminal  # the shipped threshold was found
    # 153 entries: the series' 3 slices and the volume's 25 each count once read, 179 scans in all
    assert re.search(r"predict: .*\| *\d+/179 \[", terminal), terminal[-2000:]


def test_light_install_ships_each_model_folder_with_its_card(light_install):
    site, _ = light_install
    shipped = site / "braintumor" / "shipped_models"
    folders = sorted(path.parent.relative_to(ROOT / "model") for path in (ROOT / "model").rglob("config.toml"))
    assert folders
    for folder in folders:
        for name in ("config.toml", "card.json", "model.onnx"):
            assert (shipped / folder / name).read_bytes() == (ROOT / "model" / folder / name).read_bytes(), (folder, name)
        assert not (shipped / folder / "model.keras").exists()
        for name in ("scope.json", "scope.onnx"):  # the scope detector and its network, where the folder has them
            if (ROOT / "model" / folder / name).is_file():
                assert (shipped / folder / name).read_bytes() == (ROOT / "model" / folder / name).read_bytes(), (folder, name)
