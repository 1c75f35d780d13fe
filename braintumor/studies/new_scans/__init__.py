"""The new-scans study: which A + LGG variant `predict` should use for scans from elsewhere.

    python -m braintumor study new-scans train [--minutes M]   # rows, resumable (make new-scans-study)
    python -m braintumor study new-scans pick                  # the rule, once every row is in
    python -m braintumor study new-scans final                 # the pick on A and all four LGG sites
    python -m braintumor study new-scans score                 # once, a look at held-out data

`rule`: the rule (`new_scans_default`) and its constants; `variants`: the variants
(`new_scans_variants`) and how each trains; `rows`: the rows, the pick and the command line;
`model`: the final model and its one scoring.
"""

from .rows import main  # noqa: F401
from .rule import (  # noqa: F401
    MARGIN, MIN_MAIN_MATCHED_ROC_AUC, MIN_MAIN_ROC_AUC, MODEL_NAME, NO_VARIANT_QUALIFIED, RULE, SEEDS, SINGLE_SOURCE, TIE,
    VARIANTS,
    new_scans_pick, variant_summary,
)
