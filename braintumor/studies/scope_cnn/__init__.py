"""The second scope study: a small network that tells FLAIR-like slices from T1 (rule
`scope_sequence_cnn`), after the first rule's logistic regressions (`studies.scope`) fell back.

    python -m braintumor study scope-cnn train     # leave-one-site-out rows: every variant and site (make scope-cnn-study)
    python -m braintumor study scope-cnn pick      # cues re-set, variants trained and thresholded, B read, the pick
    python -m braintumor study scope-cnn confirm   # once, after the pick: C and the test rows

`inputs`: what the study reads, described once; `network`: the detector network and its
training; `steps`: the rule's steps; `cli`: the command line. The detector's input and scoring live
in `data.scope`, which `predict` runs.
"""

from .cli import main  # noqa: F401
from .steps import scope_cnn_pick  # noqa: F401
