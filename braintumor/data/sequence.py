"""Which MR sequence a DICOM series is, from the fields its files carry.

A picture says nothing of how it was acquired; a DICOM file does. The model for scans from
elsewhere (A + LGG) learnt from skull-stripped BraTS slices and LGG FLAIR slices; on
post-contrast T1 collections it fell below the single-source model (ROC AUC 0.60 and 0.35 on
two held-back sets), and diffusion images and localisers are no slices it was made for. So
`predict` names the sequence on a series' summary line and warns where it is one of `WARNED`.

The reading, in order (the first that decides wins):
1. a localiser: `ImageType` holds LOCALIZER, or the description names a localiser or scout;
2. diffusion: the description names it (DWI, ADC, trace, DTI), or a b-value is recorded;
3. FLAIR: the description names it, or an inversion time of at least `FLAIR_MIN_TI_MS`;
4. contrast: `ContrastBolusAgent` is filled in, or the description says post-contrast;
5. the weighting: the description's T1/T2/PD, else echo and repetition time (T1: short TE
   and TR, or a short inversion time; T2: long TE and TR; PD: short TE, long TR).
What cannot be read is "unknown", and gets no warning: the input check still applies.
"""

from __future__ import annotations

import re

#: Sequences outside what the default model is for: a warning on the summary line.
WARNED = ("T1 post-contrast", "diffusion", "localiser")

#: An inversion time at or above this (ms) nulls fluid: FLAIR (about 1,800-2,800 ms at 1.5-3 T);
#: below it, an inversion pulse is T1 preparation (MPRAGE, STIR about 150-1,000 ms).
FLAIR_MIN_TI_MS = 1500.0

_WORDS = {
    "localiser": re.compile(r"locali[sz]er|scout|survey|3[- ]?plane|tri[- ]?pilot", re.I),
    "diffusion": re.compile(r"\b(dwi|adc|dti|trace|diffusion|diff)\b|\bep2d_diff", re.I),
    "FLAIR": re.compile(r"flair|\bdark[- ]?fluid", re.I),
    "contrast": re.compile(r"\+\s*c\b|\bc\+|post[- _]?(contrast|gad|gd|c)\b|\bgad\b|\bgd\b|contrast|\bpost\b", re.I),
    "T1": re.compile(r"t1|mprage|spgr|bravo", re.I),
    "T2": re.compile(r"t2", re.I),
    "PD": re.compile(r"\bpd\b|proton density", re.I),
}


def _number(dataset, keyword: str) -> float | None:
    value = dataset.get(keyword)
    if value is None or value == "":
        return None
    try:
        return float(value[0] if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else value)
    except (TypeError, ValueError):
        return None


def _text(dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return " ".join(str(item) for item in value)
    return str(value)


def _weighting(description: str, echo: float | None, repetition: float | None, inversion: float | None) -> str | None:
    for name in ("T1", "T2", "PD"):
        if _WORDS[name].search(description):
            return name
    if inversion is not None and inversion < FLAIR_MIN_TI_MS:
        return "T1"
    if echo is None or repetition is None:
        return None
    if echo <= 30 and repetition <= 1000:
        return "T1"
    if echo >= 70 and repetition >= 1800:
        return "T2"
    if echo <= 30 and repetition >= 1800:
        return "PD"
    return None


def sequence_of(dataset) -> str:
    """The sequence a DICOM dataset (or any mapping with `get` by keyword) was acquired with:
    "FLAIR", "T1", "T1 post-contrast", "T2", "PD", "diffusion", "localiser" or "unknown"."""
    description = " ".join(_text(dataset, key) for key in ("SeriesDescription", "ProtocolName", "SequenceName"))
    image_type = _text(dataset, "ImageType").upper()
    if "LOCALIZER" in image_type or _WORDS["localiser"].search(description):
        return "localiser"
    if _WORDS["diffusion"].search(description) or (_number(dataset, "DiffusionBValue") or 0) > 0:
        return "diffusion"
    inversion = _number(dataset, "InversionTime")
    if _WORDS["FLAIR"].search(description) or (inversion is not None and inversion >= FLAIR_MIN_TI_MS):
        return "FLAIR"
    contrast = bool(_text(dataset, "ContrastBolusAgent").strip()) or bool(_WORDS["contrast"].search(description))
    weighting = _weighting(description, _number(dataset, "EchoTime"), _number(dataset, "RepetitionTime"), inversion)
    if contrast and weighting in ("T1", None):
        return "T1 post-contrast"
    return weighting or "unknown"


def sequence_warning(sequence: str | None) -> str | None:
    """The summary line's warning for a series of `sequence`, or None."""
    if sequence not in WARNED:
        return None
    return (f"a {sequence} series: no model here was shown to hold on {sequence} scans from elsewhere "
            f"(they learnt from BraTS and FLAIR slices); read the probabilities with care")
