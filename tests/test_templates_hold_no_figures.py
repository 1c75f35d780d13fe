"""The documents' templates hold no figure of their own: every number, count and dataset name
comes from a record (model/*.json, braintumor/configs/*.toml, the decision registry, the
disclosure), so that a changed record changes the document.

A "figure" here is a run of digits in a template's text outside Jinja (`{{ }}`, `{% %}`,
`{# #}`) and outside the first line's generated-file comment. These are not figures of a
record and are allowed, each for the reason given: the model's input and output contract
(240x240 grey slices, values 0 to 255, shape (N, 240, 240, 1), two probabilities), the
95% of a confidence interval, fixed names that hold digits (L2, uint8, 5-fold, SHA256SUMS,
kaggle_3m, Image1.jpg, Python 3.11, CC BY-NC-SA 4.0, the MRI sequences T1 and T2), the Grad-CAM reading's fixed bands
(a tenth of the pixels -> 10.0% for an even spread, 40% of the heat), the note that the
costs table quotes (3-4x slower, CI's 90 minutes, the 55% a broken pipeline scores), the
0.500 threshold of the quoted Kaggle notebook, the 13 features of the Kaggle CSV, and the
16x16 map size the near-duplicate hash uses, and 1.00 (a perfect correlation).
"""

import re
from pathlib import Path

import pytest

from braintumor.reports import render

TEMPLATES = sorted(Path(render.TEMPLATES).glob("*.j2"))
#: predict.md.j2 (with its section predict_pictures.md.j2) and predict_usage.md.j2 belong to the
#: `predict` documentation, which states the input rules (bit depths, percentiles, DICOM tags and
#: JSON examples), not figures of a record.
EXCLUDED = {"predict.md.j2", "predict_pictures.md.j2", "predict_usage.md.j2"}

ALLOWED = {
    # the model's input/output contract
    "240", "240x240", "0", "1", "2", "255", "0..1", "0..255",
    # names and conventions that hold digits
    "95%", "L2", "T1", "T2-like", "uint8", "5-fold", "3.11", "4.0", "kaggle_3m", "Tumor/Image1.jpg", "brain-tumor-mri-training.SHA256SUMS",
    # fixed bands and quoted notes of the prose (see the module docstring)
    "10.0%", "40%", "55%", "3-4x", "90", "0.500", "13", "16x16",
    "1.00",  # the Spearman correlation of a feature with itself
}

JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TOKEN = re.compile(r"[A-Za-z_./-]*\d[\w.%/-]*")


def prose(text: str) -> str:
    """The template's text with every Jinja expression, statement and comment blanked (line breaks kept)."""
    return JINJA.sub(lambda match: re.sub(r"[^\n]", " ", match.group()), text)


def figures(text: str) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(prose(text).splitlines(), start=1):
        if line.startswith("<!-- Generated from"):
            continue
        for match in TOKEN.finditer(line):
            token = match.group().rstrip(".,;:)/")
            if token not in ALLOWED and not re.fullmatch(r"H[1-6]", token):
                found.append((number, token))
    return found


@pytest.mark.parametrize("path", [p for p in TEMPLATES if p.name not in EXCLUDED], ids=lambda p: p.name)
def test_no_template_holds_a_figure_of_its_own(path):
    assert figures(path.read_text(encoding="utf-8")) == [], f"{path.name}: figures not read from a record"


def test_the_check_finds_a_figure_and_ignores_jinja():
    assert figures("used {{ ds.used }} of its 253 slices") == [(1, "253")]
    assert figures("{{ x if y else 252 }} and (N, 240, 240, 1)") == []
    assert figures("{% if a %}\n2900 slices of 76 patients\n{% endif %}") == [(2, "2900"), (2, "76")]
