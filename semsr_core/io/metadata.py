"""Pixel size and provenance from the metadata that microscopes and imaging software write.

Physical sizes are always reported in **nanometres** (:data:`CANONICAL_UNIT`), whatever
unit the file used: FEI/Thermo writes metres, Zeiss writes "nm" or "µm", OME-XML
defaults to micrometres, TIFF resolution tags count pixels per inch or centimetre.
The conversion is done in exact decimal arithmetic on the number as written in the
file, so FEI's ``PixelWidth=1.5e-09`` becomes exactly ``1.5`` nm, not
``1.5000000000000002``.

Sources, in the order they are trusted (the first one that gives a size wins):

1. FEI/Thermo ``FEI_SFEG``/``FEI_HELIOS`` tags: ``[Scan] PixelWidth/PixelHeight`` (metres)
   (``[EScan]``, ``[EBeam]``, ``[IRBeam]`` are fall-backs).
2. Zeiss ``CZ_SEM`` tag: ``AP_IMAGE_PIXEL_SIZE`` (value and unit), ``AP_PIXEL_SIZE`` as fall-back.
3. OME-XML: ``Pixels/@PhysicalSizeX``, ``@PhysicalSizeY`` with their ``...Unit`` (default µm).
4. ImageJ metadata: ``XResolution``/``YResolution`` are pixels per ImageJ ``unit``.
5. TIFF resolution tags: ``XResolution``/``YResolution`` per ``ResolutionUnit`` inch or cm.
   Values that give pixels larger than :data:`LARGEST_PLAUSIBLE_PIXEL_NM` (10 µm, i.e.
   fewer than 2540 dpi) are print/screen settings such as 72 dpi written by image editors,
   not microscope calibrations, and are ignored with a note.

semsr's own OME-TIFF files also carry a provenance dictionary (model, settings, source)
as JSON in an OME ``CommentAnnotation`` whose ``Namespace`` is
:data:`PROVENANCE_NAMESPACE`; :func:`provenance_from_ome` reads it back.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

CANONICAL_UNIT = "nm"
"""The unit of every physical size semsr reports (``Stack.pixel_size``)."""

PROVENANCE_NAMESPACE = "https://semsr.org/provenance/1"
"""OME ``CommentAnnotation`` namespace under which semsr stores its provenance JSON."""

LARGEST_PLAUSIBLE_PIXEL_NM = 10_000.0
"""TIFF resolution tags giving larger pixels than this (nm) are not a calibration."""

# exact number of nanometres in one unit, keyed by the canonical symbol
_NM_PER_UNIT: dict[str, Fraction] = {
    "pm": Fraction(1, 1000),
    "Å": Fraction(1, 10),
    "nm": Fraction(1),
    "µm": Fraction(1000),
    "mm": Fraction(10**6),
    "cm": Fraction(10**7),
    "m": Fraction(10**9),
    "inch": Fraction(25_400_000),
}

_UNIT_ALIASES: dict[str, str] = {
    "picometer": "pm", "picometre": "pm",
    "a": "Å", "angstrom": "Å", "ångström": "Å", "\u212b": "Å",
    "nanometer": "nm", "nanometre": "nm",
    "um": "µm", "μm": "µm", "micron": "µm", "microns": "µm", "micrometer": "µm",
    "micrometre": "µm", "\\u00b5m": "µm",
    "millimeter": "mm", "millimetre": "mm",
    "centimeter": "cm", "centimetre": "cm",
    "meter": "m", "metre": "m",
    "in": "inch", "inches": "inch",
}


def length_units() -> tuple[str, ...]:
    """The unit symbols semsr understands (aliases such as "um" or "micron" also work)."""
    return tuple(_NM_PER_UNIT)


def canonical_unit(unit: str | None) -> str | None:
    """Canonical symbol for a length unit as written in files ("um" → "µm"); None if unknown."""
    if unit is None:
        return None
    text = str(unit).strip()
    if text in _NM_PER_UNIT:
        return text
    key = text.lower()
    if key in _NM_PER_UNIT:
        return key
    return _UNIT_ALIASES.get(key)


def _exact(value: Any) -> Fraction | None:
    """The number as written (decimal string or float's shortest repr) as a Fraction."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Fraction(repr(value))
    try:
        return Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        return None


def to_nanometres(value: Any, unit: str | None) -> float | None:
    """Convert a length written as ``value`` ``unit`` to nanometres, exactly.

    Returns None when the value is not a positive finite number or the unit is not a
    known length unit (e.g. "pixel").
    """
    symbol = canonical_unit(unit)
    number = _exact(value)
    if symbol is None or number is None or number <= 0:
        return None
    return float(number * _NM_PER_UNIT[symbol])


def from_nanometres(value_nm: float, unit: str) -> float:
    """Convert nanometres to ``unit`` exactly (as decimal); raises KeyError for unknown units."""
    symbol = canonical_unit(unit)
    if symbol is None:
        raise KeyError(unit)
    return float(Fraction(repr(float(value_nm))) / _NM_PER_UNIT[symbol])


@dataclass
class ImageMetadata:
    """What semsr learned from a file's metadata.

    ``pixel_size``/``pixel_size_y`` are in nanometres or None; ``source`` says where the
    pixel size came from (e.g. "FEI [Scan] PixelWidth"); ``vendor`` is "FEI", "Zeiss",
    "OME", "ImageJ" or None; ``original`` is the vendor metadata as parsed by tifffile
    (JSON-serialisable); ``provenance`` is the dictionary a semsr writer stored, if any.
    """

    pixel_size: float | None = None
    pixel_size_y: float | None = None
    source: str | None = None
    vendor: str | None = None
    original: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def pixel_size_from_fei(fei: dict[str, Any]) -> tuple[float, float, str] | None:
    """(x_nm, y_nm, source) from FEI/Thermo metadata as parsed by ``TiffFile.fei_metadata``."""
    for section in ("Scan", "EScan", "EBeam", "IRBeam"):
        values = fei.get(section)
        if not isinstance(values, dict):
            continue
        x = to_nanometres(values.get("PixelWidth"), "m")
        if x is None:
            continue
        y = to_nanometres(values.get("PixelHeight"), "m") or x
        return x, y, f"FEI [{section}] PixelWidth"
    return None


def pixel_size_from_zeiss(sem: dict[str, Any]) -> tuple[float, float, str] | None:
    """(x_nm, y_nm, source) from Zeiss CZ_SEM metadata as parsed by ``TiffFile.sem_metadata``.

    tifffile turns the line pair ``AP_IMAGE_PIXEL_SIZE`` / ``Image Pixel Size = 2.5 nm``
    into ``{'ap_image_pixel_size': ('Image Pixel Size', 2.5, 'nm')}``.
    """
    for key in ("ap_image_pixel_size", "ap_pixel_size"):
        entry = sem.get(key)
        if not isinstance(entry, tuple) or len(entry) < 2:
            continue
        if len(entry) >= 3:
            size = to_nanometres(entry[1], entry[2])
        else:  # value and unit not split by tifffile, e.g. "2.5nm" or "2.5 nm"
            text = str(entry[1]).strip()
            number = text.rstrip("abcdefghijklmnopqrstuvwxyzµμÅ ")
            size = to_nanometres(number, text[len(number):].strip())
        if size is not None:
            return size, size, f"Zeiss CZ_SEM {key.upper()}"
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_ome(xml: str) -> ET.Element | None:
    """The OME-XML root element, or None when the text is not well-formed XML."""
    try:
        return ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except ET.ParseError:
        return None


def pixel_size_from_ome(root: ET.Element) -> tuple[float, float, str] | None:
    """(x_nm, y_nm, source) from the first Image's ``Pixels`` element of OME-XML."""
    for element in root.iter():
        if _local(element.tag) != "Pixels":
            continue
        x = to_nanometres(element.get("PhysicalSizeX"), element.get("PhysicalSizeXUnit", "µm"))
        if x is None:
            return None
        y = to_nanometres(element.get("PhysicalSizeY"), element.get("PhysicalSizeYUnit", "µm"))
        return x, y or x, "OME PhysicalSizeX"
    return None


def ome_pixels_summary(root: ET.Element) -> dict[str, str]:
    """Attributes of the first OME ``Pixels`` element (sizes, type, physical sizes)."""
    for element in root.iter():
        if _local(element.tag) == "Pixels":
            return dict(element.attrib)
    return {}


def provenance_from_ome(root: ET.Element) -> dict[str, Any] | None:
    """The provenance dictionary semsr stored in OME-XML, or None when there is none."""
    for element in root.iter():
        if _local(element.tag) != "CommentAnnotation":
            continue
        if element.get("Namespace") != PROVENANCE_NAMESPACE:
            continue
        for child in element:
            if _local(child.tag) == "Value" and child.text:
                try:
                    value = json.loads(child.text)
                except json.JSONDecodeError:
                    return None
                return value if isinstance(value, dict) else None
    return None


def _rational(value: Any) -> Fraction | None:
    """A TIFF RATIONAL tag value ``(numerator, denominator)`` as a Fraction."""
    if isinstance(value, tuple) and len(value) == 2:
        num, den = value
        if den:
            return Fraction(int(num), int(den))
        return None
    return _exact(value)


def pixel_size_from_resolution(
    x_resolution: Any, y_resolution: Any, unit: str | None, source: str
) -> tuple[float, float, str] | None:
    """(x_nm, y_nm, source) from pixels-per-``unit`` resolution values."""
    symbol = canonical_unit(unit)
    x = _rational(x_resolution)
    if symbol is None or x is None or x <= 0:
        return None
    y = _rational(y_resolution)
    size_x = float(_NM_PER_UNIT[symbol] / x)
    size_y = float(_NM_PER_UNIT[symbol] / y) if y is not None and y > 0 else size_x
    return size_x, size_y, source


def _jsonable(value: Any) -> Any:
    """Vendor metadata made JSON-serialisable (tuples → lists, bytes/arrays → str/lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return str(value)


def read_tiff_metadata(tif: Any) -> ImageMetadata:
    """Everything semsr uses from an open :class:`tifffile.TiffFile`'s metadata."""
    found = ImageMetadata()
    page = tif.pages.first
    candidates: list[tuple[str, tuple[float, float, str] | None]] = []

    if tif.is_fei:
        fei = tif.fei_metadata or {}
        found.vendor = "FEI"
        found.original = _jsonable(fei)
        candidates.append(("FEI", pixel_size_from_fei(fei)))
    if tif.is_sem:
        sem = tif.sem_metadata or {}
        if found.vendor is None:
            found.vendor = "Zeiss"
            found.original = _jsonable(sem)
        candidates.append(("Zeiss", pixel_size_from_zeiss(sem)))
    if tif.is_ome:
        root = parse_ome(tif.ome_metadata or "")
        if root is None:
            found.notes.append("the OME-XML metadata is not well-formed and was ignored")
        else:
            if found.vendor is None:
                found.vendor = "OME"
                found.original = ome_pixels_summary(root)
            found.provenance = provenance_from_ome(root)
            candidates.append(("OME", pixel_size_from_ome(root)))
    if tif.is_imagej:
        ij = tif.imagej_metadata or {}
        if found.vendor is None:
            found.vendor = "ImageJ"
            found.original = _jsonable(ij)
        candidates.append(("ImageJ", pixel_size_from_resolution(
            page.tags.valueof("XResolution"), page.tags.valueof("YResolution"),
            ij.get("unit"), "ImageJ unit and XResolution")))

    resolution_unit = {2: "inch", 3: "cm"}.get(int(page.tags.valueof("ResolutionUnit", 2)))
    if resolution_unit is not None and page.tags.valueof("XResolution") is not None:
        size = pixel_size_from_resolution(
            page.tags.valueof("XResolution"), page.tags.valueof("YResolution"),
            resolution_unit, f"TIFF XResolution per {resolution_unit}")
        if size is not None and size[0] > LARGEST_PLAUSIBLE_PIXEL_NM:
            found.notes.append(
                f"TIFF resolution tag ({size[0]:g} nm per pixel) looks like a print/screen "
                "setting, not a microscope calibration, and was ignored")
            size = None
        candidates.append(("TIFF", size))

    for _name, size in candidates:
        if size is not None:
            found.pixel_size, found.pixel_size_y, found.source = size
            break
    return found
