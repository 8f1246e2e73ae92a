"""Reading and writing SEM images and stacks.

- :func:`read_stack` opens TIFF (single page, multi-page, OME-TIFF, ImageJ, BigTIFF),
  PNG or JPEG files as a lazily-read grayscale :class:`Stack` of shape (Z, Y, X) with
  the pixel size (in nanometres) found in FEI/Thermo, Zeiss, OME, ImageJ or TIFF
  resolution metadata.
- :func:`write_stack` writes OME-TIFF atomically, slice by slice, with pixel size and a
  provenance dictionary that :func:`read_stack` gives back in
  ``stack.metadata["provenance"]``.
"""

from __future__ import annotations

from semsr_core.io.metadata import (
    CANONICAL_UNIT,
    PROVENANCE_NAMESPACE,
    from_nanometres,
    length_units,
    to_nanometres,
)
from semsr_core.io.stack import NATIVE_DTYPES, Stack, read_stack
from semsr_core.io.write import WRITABLE_DTYPES, write_stack

__all__ = [
    "CANONICAL_UNIT",
    "NATIVE_DTYPES",
    "PROVENANCE_NAMESPACE",
    "WRITABLE_DTYPES",
    "Stack",
    "from_nanometres",
    "length_units",
    "read_stack",
    "to_nanometres",
    "write_stack",
]
