"""Training weights: classes balanced within each source, or within head-area bins so that head
size does not predict the label (decision `head_area_weighting`). `models.training` applies the
configuration's `weighting` with them; the cross-validation and the studies call them too."""

from __future__ import annotations

import numpy as np

from .cues import slice_cues

#: Quantile bins of head area within which `head_area_balanced_weights` balances the classes.
HEAD_AREA_BINS = 5


def head_area_bin_edges(head_area, bins: int = HEAD_AREA_BINS) -> np.ndarray:
    """The inner cut points of `bins` equally filled head-area bins of these scans."""
    return np.quantile(np.asarray(head_area, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])


def head_area_balanced_weights(head_area, labels, edges) -> np.ndarray:
    """Training weights under which head size no longer predicts the label.

    Scans are binned by head area at `edges` (`head_area_bin_edges` of the training scans);
    within each bin both classes weigh the same and the bin keeps its total weight, so a
    network gains nothing from telling a small head from a large one (the same balancing as
    `sources.balanced_weights`, with head-area bins in place of sources).
    """
    from .sources import balanced_weights

    bin_of = np.searchsorted(np.asarray(edges, dtype=float), np.asarray(head_area, dtype=float), side="right")
    return balanced_weights(labels, bin_of)


def head_area_training_weights(fit_area, fit_labels, stop_area, stop_labels) -> dict:
    """`train`'s `sample_weight` and `val_sample_weight` under which head size does not predict
    the label: bins cut on the training scans' head areas, the early-stopping scans weighted
    at the same cut points, so that the loss early stopping watches is weighted alike."""
    edges = head_area_bin_edges(fit_area)
    return {"sample_weight": head_area_balanced_weights(fit_area, fit_labels, edges),
            "val_sample_weight": head_area_balanced_weights(stop_area, stop_labels, edges)}



def pooled_training_weights(train_part: dict, val_part: dict, head_area_source: int | None = None) -> dict:
    """Weights for pooled rows (`sources.pooled` parts, with their "source" index): classes
    balanced within each source (`balanced_weights`); with `head_area_source`, that source's rows
    weighted by head area within it instead (`head_area_training_weights`, as the single-source
    model's are), which keeps its total weight in the pool. Both `train` and early stopping."""
    from .sources import balanced_weights

    weights = {"sample_weight": balanced_weights(train_part["labels"], train_part["source"]),
               "val_sample_weight": balanced_weights(val_part["labels"], val_part["source"])}
    if head_area_source is not None:
        fit, stop = train_part["source"] == head_area_source, val_part["source"] == head_area_source
        area = [slice_cues(part["images"][mask])["head_area"].to_numpy() for part, mask in ((train_part, fit), (val_part, stop))]
        within = head_area_training_weights(area[0], train_part["labels"][fit], area[1], val_part["labels"][stop])
        weights["sample_weight"][fit] = within["sample_weight"]
        weights["val_sample_weight"][stop] = within["val_sample_weight"]
    return weights
