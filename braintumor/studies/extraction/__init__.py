"""The brain-extraction study: which preprocessing `predict`'s default ships with.

    python -m braintumor study extraction train [--minutes M]   # rows, resumable (make extraction-study)
    python -m braintumor study extraction pick                  # the rule, once every row is in

`rule`: the rule (`brain_extraction_default`, written before any row) and its pick; `rows`: the
rows and the command line. Each row trains the new-scans recipe with one LGG site left out (or,
for the single-source model, scores it as trained) and scores the left-out site with the
variant's preprocessing (`data.brain_extraction`).
"""

from .rows import main  # noqa: F401
from .rule import RULE, VARIANTS, extraction_pick, variant_summary  # noqa: F401
