"""What aligning one pair gives: :class:`AlignmentResult`, and how its verdict is decided.

Verdicts: ``failed`` when the score after alignment is below ``fail_threshold``, or
below ``threshold`` with no distinct best match; ``suspicious`` below ``threshold``,
or when a different shift matches nearly as well (periodic patterns: the shift may be
off by one period), the result sits at the edge of the search range, or the common
field of view is under half the LR image; ``aligned`` otherwise. ``unpaired`` marks a
file without a partner in a folder report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np

ALIGNED = "aligned"
SUSPICIOUS = "suspicious"
FAILED = "failed"
UNPAIRED = "unpaired"

#: Default match score below which a pair is only "suspicious".
DEFAULT_THRESHOLD = 0.6
#: Default match score below which a pair is "failed" (excluded from training).
DEFAULT_FAIL_THRESHOLD = 0.35
#: A clearly different shift must explain HR this many times worse where it differs
#: (:func:`~semsr_core.data.align.search.distinctness`), else suspicious; 1: no check.
DEFAULT_MIN_PEAK_RATIO = 1.5
#: A common field of view below this fraction of the LR image makes a pair suspicious.
MIN_OVERLAP_FRACTION = 0.5
#: A common field of view narrower than this (LR pixels) makes a pair failed.
MIN_CROP_LR = 8
#: Smallest LR image side that can be aligned.
MIN_IMAGE_LR = 16


@dataclass
class AlignmentResult:
    """The outcome of aligning one LR/HR pair.

    ``lr`` and ``hr`` are the cropped images in the input dtypes, with
    ``hr.shape == scale * lr.shape``; ``lr_box`` is the LR crop ``(row0, row1, col0,
    col1)`` on the LR pixel grid. ``peak_ratio`` is how much worse the closest clearly
    different shift explains HR than the chosen one where the two predict it differently
    (:func:`~semsr_core.data.align.search.distinctness`): near 1 or below the match is
    ambiguous (a pattern repeating without a defect or an edge, or unrelated images).
    ``shift``, ``rotation`` and ``scale_factor`` follow
    :mod:`semsr_core.data.align.geometry`; the scores are
    :func:`~semsr_core.data.align.search.contrast_correlation`.
    """

    scale: int
    shift: tuple[float, float]
    rotation: float
    scale_factor: float
    ncc_before: float
    ncc_after: float
    peak_ratio: float
    verdict: str
    reason: str
    lr_box: tuple[int, int, int, int]
    lr: np.ndarray = field(repr=False)
    hr: np.ndarray = field(repr=False)
    centre: tuple[float, float] = (0.0, 0.0)  # of the geometry, HR pixels
    hr_shape: tuple[int, int] = (0, 0)  # of the HR image that was aligned

    def carry_hr_mask(self, mask: np.ndarray, path: str | PathLike | None = None
                      ) -> np.ndarray:
        """A mask drawn on the input HR image (nonzero = set; e.g. annotated defects)
        through the same crop and geometry as :attr:`hr`: a boolean array of its shape
        (:func:`semsr_core.data.masks.carry_mask`).

        Raises:
            InputError: the mask is not the size of the HR image (naming ``path``).
            ValueError: the alignment failed (there is no crop).
        """
        from semsr_core.data.masks import carry_mask

        if self.verdict == FAILED:
            raise ValueError("a failed alignment has no crop to carry a mask through")
        return carry_mask(mask, self, path)

    def summary(self) -> dict[str, Any]:
        """The per-pair numbers for a report (no arrays)."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "scale": self.scale,
            "shift_y": _rounded(self.shift[0], 3),
            "shift_x": _rounded(self.shift[1], 3),
            "rotation_deg": _rounded(self.rotation, 4),
            "scale_factor": _rounded(self.scale_factor, 5),
            "ncc_before": _rounded(self.ncc_before, 4),
            "ncc_after": _rounded(self.ncc_after, 4),
            "peak_ratio": _rounded(self.peak_ratio, 3),
            "lr_crop": " ".join(str(v) for v in self.lr_box),
            "lr_size": f"{self.lr.shape[0]}x{self.lr.shape[1]}",
            "hr_size": f"{self.hr.shape[0]}x{self.hr.shape[1]}",
        }


def _rounded(value: float, digits: int) -> float | None:
    return None if not math.isfinite(value) else round(float(value), digits)


def verdict_of(score, peak_ratio, overlap, shift, rotation, factor, *, threshold,
               fail_threshold, min_peak_ratio, max_shift, max_rotation, scale_search
               ) -> tuple[str, str]:
    """The verdict and its reason for a found geometry (see the module docstring)."""
    if score < fail_threshold:
        return FAILED, (f"NCC after alignment {score:.2f} is below the failure threshold "
                        f"{fail_threshold:.2f}: the scans may not show the same place")
    ambiguous = min_peak_ratio > 1 and peak_ratio < min_peak_ratio  # 1: accept any
    if score < threshold and ambiguous:
        return FAILED, (f"NCC after alignment {score:.2f} is below the threshold "
                        f"{threshold:.2f} and no shift matches distinctly better than others "
                        f"(ratio {peak_ratio:.2f}): the scans may not show the same place")
    notes = []
    if score < threshold:
        notes.append(f"NCC after alignment {score:.2f} is below the threshold {threshold:.2f}")
    if ambiguous:
        notes.append(f"another shift matches nearly as well (ratio {peak_ratio:.2f}; a "
                     "periodic pattern? the shift may be off by one period)")
    if max(abs(shift[0]), abs(shift[1])) >= max_shift - 1:
        notes.append(f"the shift is at the search limit of {max_shift:g} px")
    if max_rotation > 0 and abs(rotation) >= 0.98 * max_rotation:
        notes.append(f"the rotation is at the search limit of {max_rotation:g}°")
    if scale_search > 0 and abs(factor - 1) >= 0.98 * scale_search:
        notes.append(f"the scale factor is at the search limit 1 ± {scale_search:g}")
    if overlap < MIN_OVERLAP_FRACTION:
        notes.append(f"only {overlap:.0%} of the LR image lies in the common field of view")
    if notes:
        return SUSPICIOUS, "; ".join(notes)
    return ALIGNED, f"NCC {score:.2f} after alignment"
