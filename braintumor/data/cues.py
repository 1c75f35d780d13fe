"""Size and brightness of a scan's head (`slice_cues`): the cues that track slice level in the
Brain Tumor set. Training weights read them (`data.weights`), and so do the shortcut checks
(`evaluation.shortcut`), which is why they sit in the data layer."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .dataset import grey_stack, head_mask

#: The columns of `slice_cues`, in order: what `trivial_cue_classifier` is fitted on.
CUE_NAMES = ("head_area", "head_height", "head_width", "head_mean_grey", "picture_mean_grey")

_CHUNK = 256  # scans per vectorised step: bounds the boolean mask at ~15 MB


def _bounding_extent(present: np.ndarray) -> np.ndarray:
    """Per row of `present` (N, L), the span from its first to last True, as a fraction of L."""
    length = present.shape[1]
    first = present.argmax(axis=1)
    last = length - 1 - present[:, ::-1].argmax(axis=1)
    return np.where(present.any(axis=1), (last - first + 1) / length, 0.0)


def slice_cues(images) -> pd.DataFrame:
    """Size and brightness of each scan's head: the cues that track slice level.

    Columns (`CUE_NAMES`): head_area (fraction of the picture brighter than
    `data.HEAD_GREY_LEVEL`), head_height and head_width (the head mask's bounding box,
    as a fraction of the picture's side), head_mean_grey (mean grey inside the mask; 0 for
    an all-black scan) and picture_mean_grey. Worked in chunks so memory stays small.
    """
    images = grey_stack(images)
    parts = []
    for start in range(0, len(images), _CHUNK):
        chunk = images[start:start + _CHUNK]
        mask = head_mask(chunk)
        head_pixels = mask.sum(axis=(1, 2))
        head_grey = np.sum(chunk, axis=(1, 2), where=mask, dtype=np.int64)
        parts.append(np.column_stack([
            head_pixels / mask[0].size,
            _bounding_extent(mask.any(axis=2)),
            _bounding_extent(mask.any(axis=1)),
            np.divide(head_grey, head_pixels, out=np.zeros(len(chunk)), where=head_pixels > 0),
            chunk.mean(axis=(1, 2)),
        ]))
    values = np.concatenate(parts) if parts else np.empty((0, len(CUE_NAMES)))
    return pd.DataFrame(values, columns=list(CUE_NAMES))
