"""A 2D brain extraction: take away the scalp and skull around the brain of one axial slice.

Why: the training slices (BraTS, skull-stripped) show a brain on black; a clinical slice
(the LGG FLAIR source, the outside scans) shows the brain inside a bright ring of scalp, with
the dark skull and CSF between. What surrounds the brain is the first thing that tells the
two apart, so a model can learn it instead of the brain (issue 41). Extraction makes a
clinical slice look more like a training one; a skull-stripped slice must come out as it
went in, so the method first asks whether there is a shell at all and, when in doubt, keeps
the whole head.

How ("classical-v1", nothing learned; NumPy's `data.morphology` for every step but the
watershed of step 4, which is SciPy's `ndimage.watershed_ift`):

1. Head: pixels brighter than the background (`dataset.HEAD_GREY_LEVEL`), holes filled.
2. Tissue: head pixels above a fraction (half, then three quarters) of the median grey of
   the head's interior (deeper than `INTERIOR_DEPTH` of its radius: brain on any slice).
3. Split: erode the tissue by 1, 2, 3 px and label it. On a slice with a skull it falls into
   pieces that reach the head's edge (scalp) and pieces that stay clear of it (brain, inside
   the dark skull); a skull-stripped brain reaches the edge itself and has no inside piece
   but a lesion or a lobe cut off by dark tissue.
4. Boundary: a watershed on the inverted, smoothed grey from two markers (the inside pieces;
   the edge pieces and the background) runs along the dark ring between them. The brain is
   the tissue on the inside of that line, closed by `CLOSING` px, holes filled.
5. Accept only what looks like a brain inside a shell: it holds `MIN_BRAIN_SHARE` of the
   head or more, the ring taken away is dark (its median grey at most `MAX_GAP_RATIO` of the
   brain's) and the head's outer band is bright all round (its `SCALP_QUANTILE` quantile at
   least `MIN_SCALP_OVER_GAP` times the ring's grey). Otherwise the whole head is kept.
   Step 5 is what keeps skull-stripped brains whole: a bright lesion or one bright
   hemisphere can split from the rest, but what surrounds it is brain, not a bright rim
   over a dark gap. On A's 3762 slices, 41 candidates reach step 5; the 8 big and dark
   enough have an outer band at most 1.09 times their ring's grey, where 1.4 is needed.

Measured on the packed arrays (tests/test_brain_extraction.py): all 3762 training slices
keep every head pixel; 47% of the LGG slices lose their scalp and the input check's
bright-rim cue falls on average from 0.42 to 0.36. A 240x240 slice takes about 3 ms
(skull-stripped), 7 ms (LGG) and 13 ms (outside scans, large heads) on one CPU core.

Where it fails (the slice is then kept whole, or cut wrongly):
- a tight crop, the head touching the picture's border: the skull's dark ring is open to the
  outside, holes do not fill and no shell is found (some outside scans);
- a slice with little brain, near the top of the head or low through the face and neck:
  under `MIN_BRAIN_SHARE` of the head, or not enclosed by a dark ring, it keeps its scalp;
  low slices that pass may keep the cerebellum only, or take the eyes or nose for brain;
- a skull ring that is not dark, or a brain joined to the scalp over a wide stretch;
- a noisy or bright background (not black), where the head mask is the whole picture;
- a bright lesion can be taken for the brain where the brain around it is dark enough to
  pass for the skull's ring (seen on a few LGG FLAIR slices), or one hemisphere kept;
- on T2 (bright CSF) the bright CSF stays inside the brain mask, so the rim stays bright.
It works slice by slice, so it cannot use the 3D shape of the head that volume tools use.
Pixels outside the head (the background, grey <= `HEAD_GREY_LEVEL`) are set to 0 as well.

SciPy is imported only by step 4, on the slices that have an inside piece (most slices with
a skull, 3 of 100 of A's): that first call pays SciPy's import (about 0.2 s warm, 0.8 s from
a cold disk cache), and a skull-stripped scan usually none. Until 2026-12-05 every step was
SciPy's; the NumPy steps give the same masks on every packed row of A, LGG and the extra
sets (tests/test_morphology.py compares the steps; the masks were compared once, off-line).
"""

from __future__ import annotations

import numpy as np

from . import morphology
from .dataset import HEAD_GREY_LEVEL
from .morphology import fill_holes

#: Extraction methods `extract_brain` knows: "none" leaves a scan as it is.
METHODS = ("none", "classical-v1")

#: Tissue thresholds tried, as fractions of the interior's median grey, lowest first.
TISSUE_FRACTIONS = (0.5, 0.75)
#: The interior: head pixels deeper than this share of the head's largest depth.
INTERIOR_DEPTH = 0.4
#: Erosions (px) tried, to break thin bridges between scalp and brain.
MAX_ERODE = 3
#: A piece reaches the head's edge when it comes within (erosion + this many px) of it.
EDGE_MARGIN = 2
#: Depth (px) of the head's outer band, where the scalp is.
OUTER_BAND = 4
#: The largest inside piece must hold this share of the head to seed a brain; other inside
#: pieces join the seed when at least `SEED_RELATIVE` of its size (two hemispheres).
MIN_SEED_SHARE = 0.05
SEED_RELATIVE = 0.25
#: Acceptance (step 5): brain's share of the head; ring grey / brain grey; outer band's
#: `SCALP_QUANTILE` grey / ring grey.
MIN_BRAIN_SHARE = 0.3
MAX_GAP_RATIO = 0.75
SCALP_QUANTILE = 0.4
MIN_SCALP_OVER_GAP = 1.4
#: Closing (px) that smooths the brain's edge over sulci cut away by the tissue threshold.
CLOSING = 3
#: Smoothing (Gaussian sigma, px) of the grey the watershed floods.
SMOOTHING = 1.0
#: Heads smaller than this (px) are kept whole: too little to find a shell in.
MIN_HEAD_PIXELS = 400


def _head(grey: np.ndarray) -> np.ndarray:
    """Pixels brighter than the background, holes filled (input_check's head, filled)."""
    return fill_holes(grey > HEAD_GREY_LEVEL)


def _crop_box(mask: np.ndarray, pad: int) -> tuple[slice, slice]:
    """The bounding box of `mask` grown by `pad` px on each side, inside the picture."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (slice(max(rows[0] - pad, 0), rows[-1] + pad + 1),
            slice(max(cols[0] - pad, 0), cols[-1] + pad + 1))


def _interior_level(grey: np.ndarray, head: np.ndarray, edge_distance: morphology.EdgeDistance) -> float:
    """Median grey of the head's interior (deeper than `INTERIOR_DEPTH` of its largest
    depth): the brain's level, whatever the scalp's, which the tissue thresholds scale."""
    deep = head & edge_distance.over(INTERIOR_DEPTH * edge_distance.max())
    return float(np.median(grey[deep if deep.any() else head]))


def _split_pieces(core: np.ndarray, edge_distance: morphology.EdgeDistance, erosion: int, head_area: int):
    """Label the eroded tissue `core`: (labels, seed pieces, edge pieces), or None when no
    piece big enough stays clear of the head's edge. Edge pieces come within `erosion` +
    `EDGE_MARGIN` px of the edge; seeds are the inside pieces of at least `SEED_RELATIVE`
    of the largest one's size."""
    labels, count = morphology.label(core)
    if count < 2:
        return None
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    at_edge = np.zeros(count + 1, dtype=bool)
    at_edge[np.unique(labels[~edge_distance.over(erosion + EDGE_MARGIN)])] = True
    at_edge[0] = False
    inside = ~at_edge
    inside[0] = False
    if not inside.any() or sizes[inside].max() < MIN_SEED_SHARE * head_area:
        return None
    seeds = np.flatnonzero(inside & (sizes >= SEED_RELATIVE * sizes[inside].max()))
    edges = np.flatnonzero(at_edge & (sizes >= 5))
    return labels, seeds, edges


def _brain_from_seeds(cost, head, tissue, labels, seeds, edges):
    """The brain grown from the seed pieces up to the dark ring: a watershed on `cost` (the
    inverted smoothed grey) from two markers, the seeds and the edge pieces plus the
    background. The brain is the tissue of the seed side joined to a seed, closed by
    `CLOSING` px, holes filled. Returns (brain, the seed side of the watershed); the brain is
    None when the seed side is under `MIN_BRAIN_SHARE` of the head."""
    from scipy import ndimage  # here only: the slices that reach this step pay SciPy's import

    markers = np.zeros(head.shape, dtype=np.int16)
    markers[~head] = 2
    markers[np.isin(labels, edges)] = 2
    seeded = np.isin(labels, seeds)
    markers[seeded] = 1
    basin = (ndimage.watershed_ift(cost, markers) == 1) & head
    if basin.sum() < MIN_BRAIN_SHARE * head.sum():  # the brain lies in the basin: too small already
        return None, basin
    parts, _ = morphology.label(basin & tissue)
    keep = np.unique(parts[seeded])
    brain = np.isin(parts, keep[keep > 0])
    closed = morphology.closing(brain, iterations=CLOSING) & basin
    return fill_holes(brain | closed), basin


def _looks_like_shell(grey, smooth, head, edge_distance, brain, basin) -> bool:
    """Whether `brain` is a brain inside a shell: big enough, the ring the watershed put on
    its side but outside it dark, the head's outer band bright all round (step 5)."""
    ring = basin & ~brain
    if not ring.any() or brain.sum() < MIN_BRAIN_SHARE * head.sum():
        return False
    brain_grey = max(float(np.median(grey[brain])), 1.0)
    ring_grey = max(float(np.median(smooth[ring])), 1.0)
    scalp_grey = float(np.quantile(grey[edge_distance.at_most(OUTER_BAND)], SCALP_QUANTILE))
    return ring_grey <= MAX_GAP_RATIO * brain_grey and scalp_grey >= MIN_SCALP_OVER_GAP * ring_grey


def _find_brain(grey: np.ndarray, head: np.ndarray) -> np.ndarray | None:
    """The brain inside a scalp and skull shell of the (cropped) slice, or None if none is found:
    each tissue threshold, each erosion, until a candidate passes step 5."""
    edge_distance = morphology.EdgeDistance(head)
    head_area = int(head.sum())
    level = _interior_level(grey, head, edge_distance)
    smooth = cost = None
    for fraction in TISSUE_FRACTIONS:
        tissue = head & (grey > max(fraction * level, HEAD_GREY_LEVEL))
        for erosion, core in enumerate(morphology.cross_depths_over(tissue, MAX_ERODE), start=1):
            pieces = _split_pieces(core, edge_distance, erosion, head_area)
            if pieces is None:
                continue
            if smooth is None:  # only slices with an inside piece pay for the smoothing
                smooth = morphology.gaussian_smooth(grey, SMOOTHING)
                cost = np.where(head, 255.0 - np.clip(smooth, 0, 255), 0).astype(np.uint8)
            brain, basin = _brain_from_seeds(cost, head, tissue, *pieces)
            if brain is not None and _looks_like_shell(grey, smooth, head, edge_distance, brain, basin):
                return brain
    return None


def brain_mask(grey: np.ndarray) -> np.ndarray:
    """2D uint8 slice -> bool mask of the brain (the whole head mask where no skull/scalp shell is found).

    The head mask is the pixels brighter than `HEAD_GREY_LEVEL`, holes filled. See the
    module's docstring for how a shell is found, and where it is not.
    """
    grey = np.asarray(grey)
    if grey.ndim != 2:
        raise ValueError(f"brain_mask takes one 2D slice (H, W), got shape {grey.shape}")
    if grey.dtype != np.uint8:
        raise ValueError(f"brain_mask takes uint8 grey 0..255, got {grey.dtype}")
    head = _head(grey)
    if head.sum() < MIN_HEAD_PIXELS:
        return head
    box = _crop_box(head, CLOSING + 2)
    brain = _find_brain(grey[box], head[box])
    if brain is None:
        return head
    mask = np.zeros_like(head)
    mask[box] = brain
    return mask


def _as_stack(images: np.ndarray) -> np.ndarray:
    """`images` viewed as (N, H, W, C), or ValueError naming the shapes taken."""
    if images.ndim == 2:
        return images[np.newaxis, :, :, np.newaxis]
    if images.ndim == 3 and images.shape[-1] <= 4:
        return images[np.newaxis]
    if images.ndim == 4:
        return images
    raise ValueError(f"expected images shaped (H, W), (H, W, C) with C <= 4 or (N, H, W, C), got {images.shape}")


def extract_brain(images: np.ndarray, method: str = "classical-v1") -> np.ndarray:
    """uint8 images shaped (H, W), (H, W, C) or (N, H, W, C) -> same shape and dtype, pixels outside the brain set to 0.
    method "none" returns the input unchanged (the same object). Unknown method -> ValueError naming the method and METHODS.

    The mask of a picture of several channels is that of their mean (grey stored as RGB gets
    the grey's mask). The input is not changed; a new array is returned.
    """
    if method not in METHODS:
        raise ValueError(f"unknown brain extraction method {method!r}; choose one of {METHODS}")
    if method == "none":
        return images
    array = np.asarray(images)
    if array.dtype != np.uint8:
        raise ValueError(f"extract_brain takes uint8 images 0..255, got {array.dtype}")
    stack = _as_stack(array)
    out = stack.copy()
    for index, picture in enumerate(stack):
        grey = picture[..., 0] if picture.shape[-1] == 1 else np.round(picture.mean(axis=-1)).astype(np.uint8)
        out[index][~brain_mask(grey)] = 0
    return out.reshape(array.shape)


def extraction_effect(images, method: str = "classical-v1") -> dict[str, float]:
    """What extraction does to a stack of scans, (N, H, W) or (N, H, W, 1) uint8: the share
    of head pixels kept, pooled over the stack (head pixels as the input check counts them:
    grey above `HEAD_GREY_LEVEL`), and the input check's mean bright-rim cue before and after
    (`input_cues(...)["bright_rim"]`), each rounded to 4 decimals."""
    from .input_check import input_cues

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"expected a stack of grey scans (N, H, W[, 1]), got {images.shape}")
    after = extract_brain(images, method)
    heads = int((images > HEAD_GREY_LEVEL).sum())
    kept = int((after > HEAD_GREY_LEVEL).sum())  # a pixel kept keeps its grey, so it stays above the level
    return {"head pixels kept": round(kept / max(heads, 1), 4),
            "bright rim before": round(float(input_cues(images)["bright_rim"].mean()), 4),
            "bright rim after": round(float(input_cues(after)["bright_rim"].mean()), 4)}
