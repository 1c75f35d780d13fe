"""The committed notebooks as a reader sees them on GitHub: the outputs of one run top to bottom
(execution counts 1..N, no cell left unrun), figures embedded at a readable size in RGB, no
machine path in an output, and a weight GitHub still renders."""

import base64
import io
import json
import re

import pytest
from PIL import Image

from braintumor import config

NOTEBOOKS = ("data_prep.ipynb", "model.ipynb", "erroranalysis.ipynb")
#: The narrowest embedded figure GitHub shows with legible text (a full-width figure is wider).
MIN_FIGURE_WIDTH = 600
#: All three notebooks together.
MAX_TOTAL_BYTES = 6_000_000


def _notebook(name: str) -> dict:
    return json.loads((config.REPO_ROOT / name).read_text(encoding="utf-8"))


def execution_counts(notebook: dict) -> list:
    return [cell.get("execution_count") for cell in notebook["cells"] if cell["cell_type"] == "code"]


def one_run_problems(counts: list) -> list[str]:
    """What says a notebook's outputs are not one run top to bottom: a code cell never run, or
    counts that are not 1, 2, ..., N."""
    problems = [f"code cell {k} has no execution count" for k, count in enumerate(counts) if count is None]
    if not problems and counts != list(range(1, len(counts) + 1)):
        problems.append(f"execution counts {counts} are not 1..{len(counts)}")
    return problems


def embedded_pngs(notebook: dict):
    for number, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("image/png")
            if data:
                yield number, Image.open(io.BytesIO(base64.b64decode("".join(data) if isinstance(data, list) else data)))


def test_one_run_problems_finds_a_spliced_or_unrun_notebook():
    assert one_run_problems([1, 2, 3]) == []
    assert one_run_problems([1, 2, None]) == ["code cell 2 has no execution count"]
    assert one_run_problems([1, 24, 1, 2]) == ["execution counts [1, 24, 1, 2] are not 1..4"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_is_one_run_top_to_bottom(name):
    assert one_run_problems(execution_counts(_notebook(name))) == []


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_embedded_figures_are_readable_rgb(name):
    small = [(number, image.size, image.mode) for number, image in embedded_pngs(_notebook(name))
             if image.width < MIN_FIGURE_WIDTH or image.mode != "RGB"]
    assert small == [], f"{name}: figures under {MIN_FIGURE_WIDTH} px wide or not RGB (cell, size, mode)"


def test_the_notebooks_together_stay_light():
    total = sum((config.REPO_ROOT / name).stat().st_size for name in NOTEBOOKS)
    assert total < MAX_TOTAL_BYTES, f"notebooks weigh {total / 1e6:.1f} MB (at most {MAX_TOTAL_BYTES / 1e6:.0f} MB)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_output_names_a_machine_path(name):
    leaked = []
    for number, cell in enumerate(_notebook(name)["cells"]):
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
            leaked += [f"cell {number}: {marker}" for marker in (str(config.REPO_ROOT), "/home/", "/work/", "/tmp/")
                       if marker in text]
    assert leaked == []


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_ends_with_its_result(name):
    cells = _notebook(name)["cells"]
    assert "".join(cells[-2]["source"]).strip() == "## Result" and cells[-1]["cell_type"] == "code"
    printed = "".join("".join(output.get("text", "")) for output in cells[-1].get("outputs", []))
    assert 1 <= len(printed.strip().splitlines()) <= 4, f"{name}: the result cell prints {printed!r}"


#: The longest output line a reader should have to scroll (issue 39).
MAX_OUTPUT_LINE = 200
#: What a Keras epoch log looks like ("Epoch 3/30", "75/75 - 4s - loss: ...").
EPOCH_LOG = re.compile(r"^(Epoch \d+/\d+|\d+/\d+ .*(loss|accuracy)[:=])")


def output_lines(notebook: dict):
    """(cell number, line) of every text output: streams and text/plain results."""
    for number, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain") or ""
            for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                yield number, line


def test_output_checks_catch_a_long_line_and_an_epoch_log():
    notebook = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "stream", "text": ["Epoch 1/30\n", "x" * 201 + "\n"]}]}]}
    lines = [line for _, line in output_lines(notebook)]
    assert any(EPOCH_LOG.match(line) for line in lines) and max(map(len, lines)) > MAX_OUTPUT_LINE


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_output_line_is_over_200_characters_and_no_epoch_is_logged(name):
    lines = list(output_lines(_notebook(name)))
    assert lines, f"{name} has no text output: run it (make reproduce)"
    long = [(number, len(line)) for number, line in lines if len(line) > MAX_OUTPUT_LINE]
    logged = [(number, line) for number, line in lines if EPOCH_LOG.match(line.strip())]
    assert not long, f"{name}: output lines over {MAX_OUTPUT_LINE} characters (cell, length): {long}"
    assert not logged, f"{name}: epoch logs in outputs: {logged[:3]}"


def test_model_notebook_opens_with_a_short_setup_cell():
    first = next(cell for cell in _notebook("model.ipynb")["cells"] if cell["cell_type"] == "code")
    source = "".join(first["source"]) if isinstance(first["source"], list) else first["source"]
    assert len(source.strip().splitlines()) <= 15
