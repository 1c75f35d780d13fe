"""DICOM in: files built with pydicom (8-, 12-, 16-bit, MONOCHROME1/2, rescale, Modality LUT,
window and VOI LUT tags or none, shuffled order, missing positions) and the files `predict`
must refuse with a clear line (multi-frame, no pixel data, CT, compressed without a decoder,
not DICOM).

The command runs here with the shipped model's ONNX export (no TensorFlow): these tests
check reading and ordering, not the model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pydicom = pytest.importorskip("pydicom")

from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset  # noqa: E402
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, JPEGLSLossless, MRImageStorage, generate_uid  # noqa: E402

from braintumor.cli import main  # noqa: E402
from braintumor.data import dicom  # noqa: E402
from braintumor.data.images import linear_to_grey, percentile_range, read_scan, to_model_size  # noqa: E402


def write_dicom(path, pixels, *, bits=16, signed=False, photometric="MONOCHROME2", rescale=None, window=None,
                position=None, orientation=(1, 0, 0, 0, 1, 0), instance=None, series_uid="1.2.826.0.1.3680043.10.1",
                modality="MR", frames=None, syntax=ExplicitVRLittleEndian, pixel_data=True, sop_class=MRImageStorage):
    """Write one DICOM Part 10 file: `pixels` stored as-is (rows x columns; frames x rows x
    columns with `frames`), with the tags given (None: tag absent)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.0", series_uid
    if modality is not None:
        ds.Modality = modality
    pixels = np.asarray(pixels)
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated = 8 if bits == 8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, int(signed)
    if frames is not None:
        ds.NumberOfFrames = frames
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if position is not None:
        ds.ImagePositionPatient, ds.ImageOrientationPatient = list(position), list(orientation)
    if instance is not None:
        ds.InstanceNumber = instance
    if pixel_data and syntax.is_compressed:
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([b"\xff\xd8not really JPEG-LS\xff\xd9" + b"\0"])
        ds["PixelData"].VR = "OB"
    elif pixel_data:
        dtype = {(8, False): np.uint8, (16, False): np.uint16, (16, True): np.int16}[(ds.BitsAllocated, signed)]
        ds.PixelData = pixels.astype(dtype).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _series(folder, headers_only=False):
    headers = [dicom.read_header(path) for path in sorted(folder.glob("*.dcm"))]
    groups = dicom.group_series(headers)
    return groups if headers_only else [dicom.read_series(group) for group in groups]


def _ramp(shape=(240, 240), top=255, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, top + 1, shape)


# --------------------------------------------------------------------------------------
# Intensity: modality transform, window or percentiles, MONOCHROME1
# --------------------------------------------------------------------------------------


def test_eight_bit_with_window_128_256_keeps_every_grey_level(tmp_path):
    pixels = _ramp()
    write_dicom(tmp_path / "a.dcm", pixels, bits=8, window=(128, 256))
    [series] = _series(tmp_path)
    np.testing.assert_array_equal(series.slices[0][1], pixels)


def _window(center, width, function=None, *, bits=8, signed=False, rescale=None):
    """The tags `dicom.voi_grey` reads for a window (and the modality output range it ends in)."""
    ds = Dataset()
    ds.PhotometricInterpretation, ds.BitsStored, ds.PixelRepresentation = "MONOCHROME2", bits, int(signed)
    ds.WindowCenter, ds.WindowWidth = center, width
    if function is not None:
        ds.VOILUTFunction = function
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    return ds


def test_window_follows_the_standard_linear_formula():
    values = np.array([-10.0, 0, 1, 127, 128, 254, 255, 300])
    identity = [0, 0, 1, 127, 128, 254, 255, 255]
    np.testing.assert_allclose(dicom.voi_grey(values, _window(128, 256)), identity, atol=1e-9)
    # The window ends at 0 and 255 whatever the modality output range pydicom maps it to
    np.testing.assert_allclose(dicom.voi_grey(values, _window(128, 256, bits=16, signed=True)), identity, atol=1e-9)
    np.testing.assert_allclose(dicom.voi_grey(values, _window(128, 256, bits=12, rescale=(-0.5, 40))), identity,
                               atol=1e-9)
    # Several windows: the first
    np.testing.assert_allclose(dicom.voi_grey(values, _window([128, 40], [256, 400])), identity, atol=1e-9)
    # c=40, w=400 (a CT-like window): below c-0.5-199.5 -> 0, above c-0.5+199.5 -> 255
    grey = dicom.voi_grey(np.array([-160.0, -159, 40, 239, 240]), _window(40, 400, bits=16, signed=True))
    assert grey[0] == 0 and grey[-1] == 255
    np.testing.assert_allclose(grey[1:4], ((np.array([-159, 40, 239]) - 39.5) / 399 + 0.5) * 255)
    np.testing.assert_allclose(dicom.voi_grey(np.array([40.0]), _window(40, 400, "LINEAR_EXACT")), [127.5])
    np.testing.assert_allclose(dicom.voi_grey(np.array([40.0]), _window(40, 400, "SIGMOID")), [127.5])
    np.testing.assert_allclose(dicom.voi_grey(np.array([-1e6, 1e6]), _window(40, 400, "SIGMOID")), [0, 255])
    np.testing.assert_allclose(dicom.voi_grey(values, _window(128, 256, "NOT_A_FUNCTION")), identity, atol=1e-9)


@pytest.mark.parametrize("center, width", [(128, 0.5), (128, -10), (float("nan"), 256)])
def test_an_unusable_window_leaves_the_slice_to_the_percentile_rule(center, width):
    assert dicom.voi_grey(np.arange(10.0), _window(center, width)) is None
    assert dicom.voi_grey(np.arange(10.0), Dataset()) is None  # no window, no VOI LUT


def test_twelve_bit_without_window_uses_the_series_percentiles(tmp_path):
    stacks = [_ramp(top=4095, seed=seed) for seed in range(3)]
    stacks[1][:20] = 4095  # one bright slice: the range is the series', not each file's
    for index, pixels in enumerate(stacks):
        write_dicom(tmp_path / f"s{index}.dcm", pixels, bits=12, position=(0, 0, index), instance=index + 1)
    [series] = _series(tmp_path)
    low, high = np.percentile(np.stack(stacks).astype(float), [0.5, 99.5])
    for (_, grey), pixels in zip(series.slices, stacks):
        np.testing.assert_array_equal(grey, linear_to_grey(pixels, low, high))


def test_sixteen_bit_signed_goes_through_rescale_then_window(tmp_path):
    raw = _ramp(top=2000, seed=3) - 1000
    write_dicom(tmp_path / "a.dcm", raw, bits=16, signed=True, rescale=(2.0, -500.0), window=(300, 1200))
    write_dicom(tmp_path / "b.dcm", raw, bits=16, signed=True, rescale=(2.0, -500.0), window=(300, 1200),
                series_uid="1.2.826.0.1.3680043.10.9", photometric="MONOCHROME1")
    plain, inverted = _series(tmp_path)
    # PS3.3 C.11.2.1.2.1 on the rescaled values; the linear formula clipped is the window's 0 below, 255 above
    expected = np.clip(np.rint(((raw * 2.0 - 500.0 - 299.5) / 1199 + 0.5) * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(plain.slices[0][1], expected)
    np.testing.assert_array_equal(inverted.slices[0][1], 255 - expected)  # MONOCHROME1: low values bright


def test_monochrome1_without_window_is_inverted_after_the_percentile_rule(tmp_path):
    pixels = _ramp(top=1000, seed=4)
    write_dicom(tmp_path / "a.dcm", pixels, bits=16, photometric="MONOCHROME1", rescale=(1.0, 24.0))
    [series] = _series(tmp_path)
    low, high = np.percentile(pixels + 24.0, [0.5, 99.5])
    np.testing.assert_array_equal(series.slices[0][1], 255 - linear_to_grey(pixels + 24.0, low, high))


def test_a_negative_rescale_slope_is_applied_before_the_window(tmp_path):
    """MR_small's values x (127..2145) rescaled to 2272 - x, with its window 600/1600 moved to
    2272 - 600: the modality transform comes first, so the picture is the original's negative."""
    original = dicom.read_slice(_mr_small(tmp_path / "original.dcm", VOILUTFunction="LINEAR_EXACT"))
    flipped = dicom.read_slice(_mr_small(tmp_path / "flipped.dcm", VOILUTFunction="LINEAR_EXACT", RescaleSlope=-1,
                                         RescaleIntercept=2272, WindowCenter=1672))
    np.testing.assert_array_equal(flipped.values, 2272 - original.values)
    assert ((original.voi > 0) & (original.voi < 255)).mean() > 0.9  # most inside the window, not clipped
    negative = 255 - original.voi.astype(int)
    np.testing.assert_allclose(flipped.voi, negative, atol=1)  # a level's half rounds to even on both sides
    assert (flipped.voi == negative).mean() > 0.95


def test_a_modality_lut_sequence_is_applied_before_the_percentile_rule(tmp_path):
    pixels = _ramp(seed=6)
    path = write_dicom(tmp_path / "a.dcm", pixels, bits=8)
    ds = pydicom.dcmread(path)
    squares = np.arange(256) ** 2 // 4  # a non-linear Modality LUT: 0..16256
    item = Dataset()
    item.LUTDescriptor, item.ModalityLUTType = [256, 0, 16], "US"
    item.add_new("LUTData", "US", squares.tolist())
    ds.ModalityLUTSequence = [item]
    ds.save_as(path)
    [series] = _series(tmp_path)
    values = squares[pixels]
    np.testing.assert_array_equal(series.slices[0][1], linear_to_grey(values, *percentile_range(values)))


# --------------------------------------------------------------------------------------
# VOI LUT Sequence (0028,3010): a lookup table in place of the window
# --------------------------------------------------------------------------------------


def _mr_small(path, **tags):
    """pydicom's MR_small.dcm (64x64, signed 16-bit, values 127..2145, window 600/1600) with
    `tags` set (None: removed), saved at `path`."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    for keyword, value in tags.items():
        if value is None:
            ds.pop(keyword, None)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)
    return path


def _voi_lut(first, data, bits):
    """A VOI LUT Sequence of one LUT: entry k is the output for the modality value `first` + k."""
    item = Dataset()
    item.LUTDescriptor = [len(data), first, bits]
    item.add_new("LUTData", "US", [int(value) for value in data])
    return [item]


def _picture(path):
    [group] = dicom.group_series([dicom.read_header(path)])
    [(_, grey)] = dicom.read_series(group).slices
    return grey


#: A LUT no window can be: modality values 200..1999 (below: the first entry, above: the last),
#: 12-bit entries; 600..999 -> 4095 (white), 1500 and above -> 2048 (mid-grey), the rest -> 0.
BAND_FIRST = 200
BAND = np.where((np.arange(200, 2000) >= 600) & (np.arange(200, 2000) < 1000), 4095,
                np.where(np.arange(200, 2000) >= 1500, 2048, 0))


@pytest.mark.parametrize("window, photometric", [(None, "MONOCHROME2"), ((600, 1600), "MONOCHROME2"),
                                                 (None, "MONOCHROME1")],
                         ids=["lut-only", "lut-preferred-to-the-window", "monochrome1-inverted-after-the-lut"])
def test_a_voi_lut_sequence_maps_the_grey_levels(tmp_path, window, photometric):
    center, width = window or (None, None)
    path = _mr_small(tmp_path / "lut.dcm", WindowCenter=center, WindowWidth=width, PhotometricInterpretation=photometric,
                     VOILUTSequence=_voi_lut(BAND_FIRST, BAND, 12))
    pixels = pydicom.dcmread(path).pixel_array.astype(int)

    voi = dicom.read_slice(path).voi  # at the file's own 64x64, before MONOCHROME1 and the resize
    white, mid = (pixels >= 600) & (pixels < 1000), pixels >= 1500
    assert white.any() and mid.any() and (pixels < 600).any() and (pixels > 2000).any()
    levels = np.where(white, 255, np.where(mid, 128, 0)).astype(np.uint8)  # 2048 / 4095 * 255 = 127.5 + 0.03
    np.testing.assert_array_equal(voi, levels)
    if photometric == "MONOCHROME1":
        levels = 255 - levels
    np.testing.assert_array_equal(_picture(path), to_model_size(levels))


def test_an_8_bit_voi_lut_of_more_than_256_entries_maps_every_entry(tmp_path):
    """A 12-bit to 8-bit LUT (4096 entries): entries past 255 are looked up, not wrapped
    (pydicom 3.0.2 on its own indexes such a LUT through uint8)."""
    path = _mr_small(tmp_path / "lut8.dcm", WindowCenter=None, WindowWidth=None,
                     VOILUTSequence=_voi_lut(0, np.arange(4096) // 16, 8))
    pixels = pydicom.dcmread(path).pixel_array.astype(int)
    assert pixels.max() > 1000
    np.testing.assert_array_equal(dicom.read_slice(path).voi, pixels // 16)


def test_a_voi_lut_pydicom_cannot_apply_falls_back_to_the_window_then_the_percentiles(tmp_path):
    lut = _voi_lut(0, np.arange(4096), 9)  # 9 bits an entry: not one of 8, 10..16
    with_window = _picture(_mr_small(tmp_path / "a.dcm", VOILUTSequence=lut))
    np.testing.assert_array_equal(with_window, _picture(_mr_small(tmp_path / "b.dcm")))
    without = _picture(_mr_small(tmp_path / "c.dcm", VOILUTSequence=lut, WindowCenter=None, WindowWidth=None))
    pixels = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    np.testing.assert_array_equal(without, to_model_size(linear_to_grey(pixels, *percentile_range(pixels))))


def test_other_sizes_are_resized_like_a_picture_file(tmp_path):
    pixels = _ramp((256, 200), seed=5)
    write_dicom(tmp_path / "a.dcm", pixels, bits=8, window=(128, 256))
    Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "a.png")
    [series] = _series(tmp_path)
    np.testing.assert_array_equal(series.slices[0][1], read_scan(tmp_path / "a.png"))


# --------------------------------------------------------------------------------------
# Series: grouping and slice order
# --------------------------------------------------------------------------------------


def test_slices_are_ordered_along_the_normal_whatever_the_instance_numbers(tmp_path):
    rng = np.random.default_rng(0)
    heights = rng.permutation(8)  # file k lies at height heights[k]; instance numbers shuffled too
    instances = rng.permutation(8) + 1
    angle = np.deg2rad(20)  # an oblique series: rows tilted about x
    row, column = (1.0, 0.0, 0.0), (0.0, np.cos(angle), np.sin(angle))
    normal = np.cross(row, column)
    for k in range(8):
        write_dicom(tmp_path / f"f{k}.dcm", np.full((240, 240), 10 * heights[k]), bits=8, window=(128, 256),
                    position=tuple(np.array([5.0, -3.0, 2.0]) + 2.5 * heights[k] * normal),
                    orientation=row + column, instance=int(instances[k]))
    [series] = _series(tmp_path)
    assert [int(grey[0, 0]) for _, grey in series.slices] == [10 * h for h in range(8)]


def test_without_positions_the_instance_number_orders(tmp_path):
    for k, instance in enumerate([3, 1, 2]):
        write_dicom(tmp_path / f"f{k}.dcm", np.full((240, 240), instance * 20), bits=8, window=(128, 256),
                    instance=instance, position=(0, 0, k) if k else None)  # one file lacks its position
    [series] = _series(tmp_path)
    assert [int(grey[0, 0]) for _, grey in series.slices] == [20, 40, 60]


def test_two_series_in_one_folder_are_grouped_by_uid(tmp_path):
    for k in range(3):
        write_dicom(tmp_path / f"a{k}.dcm", np.full((240, 240), 50), bits=8, window=(128, 256), position=(0, 0, k),
                    series_uid="1.2.3.1")
        write_dicom(tmp_path / f"b{k}.dcm", np.full((240, 240), 90), bits=8, window=(128, 256), position=(0, 0, k),
                    series_uid="1.2.3.2")
    groups = _series(tmp_path, headers_only=True)
    assert [{header.series_uid for header in group.headers} for group in groups] == [{"1.2.3.1"}, {"1.2.3.2"}]
    assert [len(group.headers) for group in groups] == [3, 3]


# --------------------------------------------------------------------------------------
# Files that cannot be used: one clear line each, the rest goes on
# --------------------------------------------------------------------------------------


def _bad_files(folder):
    """{file: words its error line must hold} and three good slices of one series."""
    folder.mkdir()
    for k in range(3):
        write_dicom(folder / f"good{k}.dcm", _ramp(seed=k), bits=8, window=(128, 256), position=(0, 0, k))
    bad = {
        write_dicom(folder / "multiframe.dcm", np.zeros((2, 240, 240)), bits=8, frames=2, position=(0, 0, 9)):
            ["multi-frame", "dcm2niix"],
        write_dicom(folder / "nopixels.dcm", np.zeros((240, 240)), pixel_data=False, position=(0, 0, 10)):
            ["truncated or corrupt", "without pixel data"],
        write_dicom(folder / "ct.dcm", np.zeros((240, 240)), modality="CT", sop_class=CTImageStorage,
                    position=(0, 0, 11)): ["modality CT", "not MR"],
        write_dicom(folder / "jpegls.dcm", np.zeros((240, 240)), syntax=JPEGLSLossless, position=(0, 0, 12)):
            ["JPEG-LS", "no installed decoder", "install", "gdcmconv"],
    }
    not_dicom = folder / "notes.dcm"
    not_dicom.write_text("a text file with a .dcm name")
    bad[not_dicom] = ["not a DICOM file"]
    return bad


def test_each_unusable_file_gets_its_error_line_and_the_series_is_still_scored(tmp_path, capsys):
    bad = _bad_files(tmp_path / "series")

    status = main(["predict", str(tmp_path / "series"), "--json"])
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]

    assert status == 1
    errors = {record["file"]: record["error"] for record in records if "error" in record}
    assert set(errors) == {str(path) for path in bad}
    for path, words in bad.items():
        for word in words:
            assert word in errors[str(path)], (path.name, errors[str(path)])
    slices = [record for record in records if "slice" in record]
    assert [record["file"] for record in slices] == [str(tmp_path / "series" / f"good{k}.dcm") for k in range(3)]
    assert [record["slice"] for record in slices] == [0, 1, 2]
    assert all(record["runtime"] == "onnx" for record in slices)
    [summary] = [record for record in records if "slices" in record]
    assert summary["slices"] == 3 and "probability" not in summary
    assert "Traceback" not in err


def test_a_named_dicom_file_without_suffix_is_read(tmp_path, capsys):
    write_dicom(tmp_path / "IM0001", _ramp(), bits=8, window=(128, 256))

    status = main(["predict", str(tmp_path / "IM0001"), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert status == 0
    assert records[0]["file"] == str(tmp_path / "IM0001") and records[0]["slice"] == 0
    assert records[1]["slices"] == 1 and records[1]["max_slice"] == 0
