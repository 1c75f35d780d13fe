"""A DICOM series names its sequence on the summary line, and a post-contrast T1 series is warned.

Built from pydicom's own MR test file (a spin-echo T2, TE 240 ms, TR 4000 ms) and edited copies
of it: the fields `predict` reads are SeriesDescription, ScanningSequence / SequenceVariant,
InversionTime, EchoTime / RepetitionTime and ContrastBolusAgent.
"""

from __future__ import annotations

import json

import pytest

pydicom = pytest.importorskip("pydicom")

from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from braintumor.cli import main  # noqa: E402
from braintumor.data.sequence import WARNED, sequence_of, sequence_warning  # noqa: E402

FLAIR = {"SeriesDescription": "AX T2 FLAIR", "InversionTime": 2500, "EchoTime": 120, "RepetitionTime": 9000}
T1_POST = {"SeriesDescription": "AX T1 SE", "EchoTime": 12, "RepetitionTime": 550, "ContrastBolusAgent": "Gadavist"}


def _series(folder, fields: dict, slices: int = 3):
    """`slices` copies of pydicom's MR_small.dcm as one axial series, with `fields` set."""
    folder.mkdir()
    source = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    series_uid = generate_uid()
    for k in range(slices):
        ds = source.copy()
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series_uid, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, 5.0 * k]
        ds.InstanceNumber = k + 1
        for keyword, value in fields.items():
            setattr(ds, keyword, value)
        ds.save_as(folder / f"slice{k}.dcm")
    return folder


def _summary(folder, capsys) -> dict:
    assert main(["predict", str(folder), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [summary] = [line for line in lines if "slices" in line]
    return summary


def test_pydicoms_own_mr_file_reads_as_t2():
    assert sequence_of(pydicom.dcmread(get_testdata_file("MR_small.dcm"), stop_before_pixels=True)) == "T2"


@pytest.mark.parametrize("fields, expected", [
    (FLAIR, "FLAIR"),
    ({"InversionTime": 2200, "EchoTime": 90, "RepetitionTime": 8000}, "FLAIR"),  # no description: the inversion time
    (T1_POST, "T1 post-contrast"),
    ({"SeriesDescription": "T1 MPRAGE +C", "InversionTime": 900, "EchoTime": 3, "RepetitionTime": 2300},
     "T1 post-contrast"),
    ({"EchoTime": 12, "RepetitionTime": 500}, "T1"),
    ({"EchoTime": 100, "RepetitionTime": 4000}, "T2"),
    ({"EchoTime": 15, "RepetitionTime": 3000}, "PD"),
    ({"SeriesDescription": "ep2d_diff_3scan_trace"}, "diffusion"),
    ({"SeriesDescription": "AX DWI b1000"}, "diffusion"),
    ({"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]}, "localiser"),
    ({"SeriesDescription": "3-plane loc scout"}, "localiser"),
    ({"EchoTime": 50, "RepetitionTime": 1200}, "unknown"),  # neither weighting: no guess
])
def test_the_fields_name_the_sequence(fields, expected):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"), stop_before_pixels=True)
    for keyword in ("EchoTime", "RepetitionTime"):
        ds.pop(keyword, None)
    for keyword, value in fields.items():
        setattr(ds, keyword, value)
    assert sequence_of(ds) == expected


def test_only_sequences_outside_what_the_models_are_for_are_warned():
    assert set(WARNED) == {"T1 post-contrast", "diffusion", "localiser"}
    assert all(sequence_warning(name) and name in sequence_warning(name) for name in WARNED)
    assert sequence_warning("FLAIR") is sequence_warning("T2") is sequence_warning("unknown") is None


def test_a_flair_series_is_named_on_its_summary_line_without_a_warning(tmp_path, capsys):
    summary = _summary(_series(tmp_path / "flair", FLAIR), capsys)
    assert summary["slices"] == 3 and summary["sequence"] == "FLAIR" and "warning" not in summary


def test_a_post_contrast_t1_series_is_named_and_warned(tmp_path, capsys):
    summary = _summary(_series(tmp_path / "t1c", T1_POST), capsys)
    assert summary["sequence"] == "T1 post-contrast"
    assert "T1 post-contrast" in summary["warning"] and "care" in summary["warning"]


def test_the_text_summary_line_carries_the_sequence_and_the_warning(tmp_path, capsys):
    folder = _series(tmp_path / "t1c", T1_POST)
    assert main(["predict", str(folder)]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if "slices:" in line]
    assert "\tsequence: T1 post-contrast" in line and "\twarning: a T1 post-contrast series" in line
