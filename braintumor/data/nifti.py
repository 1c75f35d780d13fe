"""NIfTI volumes (`.nii`, `.nii.gz`) as the model's input: every axial slice one 240x240 scan.

The rule (reoriented to the closest canonical orientation, RAS+, so slice 0 is the inferior
end; each slice shown as radiologists view it; scl_slope/scl_inter, then the volume's
percentiles; a 4D file's first volume; a volume without signal refused) is stated once, in
docs/predict.md ("How a scan becomes the model's picture"), rendered from
`reports/templates/predict.md.j2`; this module applies it. `radiological_slices` holds the
picture's orientation: picture[row, col] = data[X-1-col, Y-1-row, k] of the RAS array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .images import ImageReadError, linear_to_grey, percentile_range, read_errors, to_model_size


@dataclass
class NiftiVolume:
    """The scans of one volume, slice 0 first (inferior), and a note about how it was read."""

    slices: np.ndarray  # (n, 240, 240) uint8
    note: str | None = None


def is_nifti_name(path: Path) -> bool:
    """True for a `.nii` or `.nii.gz` file name (any case)."""
    from .. import config

    return Path(path).name.lower().endswith(config.NIFTI_NAME_ENDINGS)


def radiological_slices(ras: np.ndarray) -> np.ndarray:
    """(Z, Y, X) pictures from a RAS+ array (X, Y, Z): slice k with anterior at the top and
    the patient's right on the picture's left (`ras[::-1, ::-1, k].T` for each k)."""
    return np.ascontiguousarray(np.transpose(ras[::-1, ::-1, :], (2, 1, 0)))


def _load(path: Path):
    import nibabel

    with read_errors("a NIfTI file", "not a readable NIfTI volume", hint="; give a .nii or .nii.gz file"):
        return nibabel.load(path)


def read_nifti(path) -> NiftiVolume:
    """Read a NIfTI file as the model's scans by the module's rule; `ImageReadError` if unusable."""
    import nibabel

    path = Path(path)
    image = _load(path)
    note = None
    shape = tuple(image.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    try:
        if len(shape) != len(image.shape):
            image = image.slicer[(Ellipsis,) + (0,) * (len(image.shape) - len(shape))]
        if len(shape) == 4:
            note = f"4D volume ({shape[3]} volumes of {shape[0]}x{shape[1]}x{shape[2]}): scored the first volume only"
            image = image.slicer[..., 0]
        if len(shape) not in (3, 4):
            raise ImageReadError(f"{len(shape)}D image {shape}; expected a 3D volume (or 4D: its first volume is used)")
        canonical = nibabel.as_closest_canonical(image)
        data = np.asarray(canonical.get_fdata(dtype=np.float32))
    except ImageReadError:
        raise
    except Exception as error:  # noqa: BLE001 - a truncated .gz, a bad affine, ...
        raise ImageReadError(f"corrupt or unreadable NIfTI volume ({type(error).__name__}: {error})") from None
    data = np.where(np.isfinite(data), data, 0.0)
    if data.size == 0:
        raise ImageReadError(f"empty volume {data.shape}")
    if np.ptp(data) == 0:
        raise ImageReadError(f"no signal in the volume: every voxel is {data.flat[0]:g} (or not a number); "
                             "give the volume that holds the scan")
    grey = linear_to_grey(data, *percentile_range(data))
    pictures = radiological_slices(grey)
    return NiftiVolume(np.stack([to_model_size(picture) for picture in pictures]), note)
