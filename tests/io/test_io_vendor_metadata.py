"""Pixel sizes written by SEM vendors and imaging software are found, in nanometres.

The files are written here with the real tag codes and text layouts, so tifffile's own
FEI/Zeiss/OME/ImageJ parsers are exercised, not a copy of them.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from semsr_core.io import read_stack, to_nanometres

FEI_SFEG, FEI_HELIOS, CZ_SEM = 34680, 34682, 34118

FEI_TEXT = """[User]
Date=11/21/2026
Time=10:12:33 AM
User=supervisor
[Beam]
HV=5000
Spot=3
[Scan]
InternalScan=true
Dwelltime=3e-06
PixelWidth=1.5e-09
PixelHeight=1.5e-09
HorFieldsize=1.536e-06
[Stage]
WorkingDistance=0.0041
"""

ZEISS_TEXT = """0
0
0
AP_WD
WD = 4.1 mm
AP_IMAGE_PIXEL_SIZE
Image Pixel Size = {size}
AP_MAG
Mag = 50.00 K X
DP_DETECTOR_TYPE
Detector = InLens
"""


def _image(rng, depth=2):
    return rng.integers(0, 65536, size=(depth, 32, 40), dtype=np.uint16)


@pytest.mark.parametrize("tag", [FEI_SFEG, FEI_HELIOS])
def test_fei_pixel_width_in_metres_becomes_exact_nanometres(tmp_path, rng, tag):
    path = tmp_path / "fei.tif"
    tifffile.imwrite(path, _image(rng), photometric="minisblack",
                     extratags=[(tag, "s", 0, FEI_TEXT, True)])
    with read_stack(path) as stack:
        assert stack.pixel_size == 1.5 and stack.unit == "nm"
        assert stack.metadata["vendor"] == "FEI"
        assert stack.metadata["pixel_size_source"] == "FEI [Scan] PixelWidth"
        assert stack.metadata["original"]["Beam"]["HV"] == 5000


@pytest.mark.parametrize(("written", "nanometres"), [("2.233 nm", 2.233), ("1.2 µm", 1200.0)])
def test_zeiss_image_pixel_size_with_its_unit(tmp_path, rng, written, nanometres):
    path = tmp_path / "zeiss.tif"
    text = ZEISS_TEXT.format(size=written).encode("cp1252")  # Zeiss writes µ as 0xB5
    tifffile.imwrite(path, _image(rng, 1), photometric="minisblack",
                     extratags=[(CZ_SEM, "B", len(text), text, True)])
    with read_stack(path) as stack:
        assert stack.pixel_size == nanometres and stack.unit == "nm"
        assert stack.metadata["vendor"] == "Zeiss"
        assert "AP_IMAGE_PIXEL_SIZE" in stack.metadata["pixel_size_source"]


def test_ome_physical_size_in_micrometres(tmp_path, rng):
    path = tmp_path / "ome.ome.tif"
    tifffile.imwrite(path, _image(rng, 3), photometric="minisblack", ome=True, metadata={
        "axes": "ZYX", "PhysicalSizeX": 0.0042, "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": 0.0042, "PhysicalSizeYUnit": "µm"})
    with read_stack(path) as stack:
        assert stack.pixel_size == 4.2 and len(stack) == 3
        assert stack.metadata["vendor"] == "OME"


def test_ome_physical_size_without_unit_defaults_to_micrometres(tmp_path, rng):
    path = tmp_path / "ome.ome.tif"
    tifffile.imwrite(path, _image(rng, 1)[0], photometric="minisblack", ome=True,
                     metadata={"PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    with read_stack(path) as stack:
        assert stack.pixel_size == 500.0


def test_imagej_unit_and_resolution(tmp_path, rng):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _image(rng, 4), imagej=True, resolution=(400, 400),
                     metadata={"unit": "um", "spacing": 0.01, "axes": "ZYX"})
    with read_stack(path) as stack:
        assert stack.pixel_size == 2.5  # 400 pixels per µm
        assert len(stack) == 4 and stack.metadata["vendor"] == "ImageJ"


def test_tiff_resolution_tags_in_centimetres(tmp_path, rng):
    path = tmp_path / "res.tif"
    tifffile.imwrite(path, _image(rng, 1), photometric="minisblack",
                     resolution=(200_000, 200_000), resolutionunit="CENTIMETER")
    with read_stack(path) as stack:
        assert stack.pixel_size == 50.0  # 1 cm / 200000 = 50 nm


def test_screen_resolution_of_72_dpi_is_not_taken_for_a_pixel_size(tmp_path, rng):
    path = tmp_path / "dpi.tif"
    tifffile.imwrite(path, _image(rng, 1), photometric="minisblack",
                     resolution=(72, 72), resolutionunit="INCH")
    with read_stack(path) as stack:
        assert stack.pixel_size is None and stack.unit is None
        assert any("print/screen" in note for note in stack.metadata["notes"])


def test_vendor_tag_wins_over_resolution_tags(tmp_path, rng):
    path = tmp_path / "both.tif"
    tifffile.imwrite(path, _image(rng, 1), photometric="minisblack",
                     resolution=(100_000, 100_000), resolutionunit="CENTIMETER",
                     extratags=[(FEI_HELIOS, "s", 0, FEI_TEXT, True)])
    with read_stack(path) as stack:
        assert stack.pixel_size == 1.5


def test_file_without_calibration_has_no_pixel_size(tmp_path, rng):
    path = tmp_path / "bare.tif"
    tifffile.imwrite(path, _image(rng, 1), photometric="minisblack")
    with read_stack(path) as stack:
        assert stack.pixel_size is None and stack.unit is None


@pytest.mark.parametrize(("value", "unit", "nm"), [
    (1.5e-09, "m", 1.5), ("2.5", "um", 2500.0), (0.1, "micron", 100.0), (3, "Å", 0.3),
    (7.0, "pixel", None), (-1.0, "nm", None), (float("nan"), "nm", None)])
def test_unit_conversion_is_exact_and_refuses_non_lengths(value, unit, nm):
    assert to_nanometres(value, unit) == nm


def test_fei_text_with_non_ascii_bytes_still_reads(tmp_path, rng):
    text = (FEI_TEXT.replace("User=supervisor", "User=Jürgen")).encode("cp1252")
    path = tmp_path / "fei_umlaut.tif"
    tifffile.imwrite(path, _image(rng, 1), photometric="minisblack",
                     extratags=[(FEI_HELIOS, 2, len(text), text, True)])  # ASCII-typed tag
    with read_stack(path) as stack:
        assert stack.pixel_size == 1.5
        assert stack.metadata["original"]["User"]["User"] == "Jürgen"
