"""The scope study: which check of scans outside the models' scope `predict`'s default warns with.

    python -m braintumor study scope train     # leave-one-site-out rows (make scope-study)
    python -m braintumor study scope pick      # the rule, once every row is in: writes model/new-scans/scope.json
    python -m braintumor study scope confirm   # once, after the pick: C and the test rows

`rule`: the rule (`scope_check`, written before any row) and its pick; `rows`: the steps.
The detector itself (features, scores, warnings) lives in `data.scope`, which `predict` runs.
"""

from .rows import main  # noqa: F401
from .rule import RULE, VARIANTS, scope_pick  # noqa: F401
