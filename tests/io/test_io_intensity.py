"""Intensities map to [0, 1] by dtype range, the same way for training, evaluation and the demo."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.errors import InputError
from semsr_core.io.intensity import to_unit_range


def test_integer_images_map_by_their_dtype_range():
    assert to_unit_range(np.array([[0, 65535]], np.uint16)).tolist() == [[0.0, 1.0]]
    assert to_unit_range(np.array([[0, 255]], np.uint8)).tolist() == [[0.0, 1.0]]


def test_float_images_must_already_be_in_unit_range():
    assert to_unit_range(np.array([[0.0, 1.0005]], np.float32)).max() == 1.0
    with pytest.raises(InputError, match=r"scan\.tif.*outside \[0, 1\]"):
        to_unit_range(np.array([[0.0, 4.0]], np.float32), "scan.tif")
    with pytest.raises(InputError, match="NaN"):
        to_unit_range(np.array([[np.nan]], np.float32), "scan.tif")
