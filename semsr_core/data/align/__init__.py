"""Alignment of unaligned LR/HR scan pairs: :func:`align_pair` and :func:`align_folder`.

LR and HR scans of the same place are taken one after the other, so the HR scan is
shifted (and sometimes slightly rotated or scaled) against the LR one, and the two
often differ in contrast. Training needs them registered, with HR exactly ``s`` times
LR in size and showing the same field of view ([S0] §4.1.1, "normalized correlation
maximization"; SPEC §3.2).

The match score ("NCC" in reports) is the normalised cross-correlation after the best
grey-level mapping between the scans (:func:`contrast_correlation`): with
``contrast_degree=1`` it is ``|NCC|``; with the default 3 a gamma or contrast ("style")
difference between LR and HR, or inverted contrast, neither lowers it nor biases the
sub-pixel shift.

One job per module:

- :mod:`.geometry` — the shift/rotation/scale convention and the resampling onto the crop;
- :mod:`.search` — scores, candidate translations and their refinement;
- :mod:`.pair` — :func:`align_pair` (one pair) and its checks;
- :mod:`.result` — :class:`AlignmentResult` and the verdicts;
- :mod:`.writer` — the one writer of aligned pairs (``semsr align`` and the wizard);
- :mod:`.report` — ``report.csv``/``report.json`` and the overlay PNGs;
- :mod:`.folder` — :func:`align_folder` (``semsr align``).

Masks follow the HR crop through :mod:`semsr_core.data.masks`.
"""

from semsr_core.data.align.folder import align_folder
from semsr_core.data.align.pair import align_pair, upscale
from semsr_core.data.align.report import (
    OVERLAY_PANEL,
    REPORT_COLUMNS,
    overlay_image,
    write_overlay,
    write_report,
)
from semsr_core.data.align.result import (
    ALIGNED,
    DEFAULT_FAIL_THRESHOLD,
    DEFAULT_MIN_PEAK_RATIO,
    DEFAULT_THRESHOLD,
    FAILED,
    MIN_CROP_LR,
    MIN_IMAGE_LR,
    MIN_OVERLAP_FRACTION,
    SUSPICIOUS,
    UNPAIRED,
    AlignmentResult,
)
from semsr_core.data.align.search import CANDIDATES, EXCLUDE_LR, contrast_correlation
from semsr_core.data.align.writer import write_aligned_pair

__all__ = [
    "ALIGNED", "CANDIDATES", "DEFAULT_FAIL_THRESHOLD", "DEFAULT_MIN_PEAK_RATIO",
    "DEFAULT_THRESHOLD", "EXCLUDE_LR", "FAILED", "MIN_CROP_LR", "MIN_IMAGE_LR",
    "MIN_OVERLAP_FRACTION", "OVERLAY_PANEL", "REPORT_COLUMNS", "SUSPICIOUS", "UNPAIRED",
    "AlignmentResult", "align_folder", "align_pair", "contrast_correlation",
    "overlay_image", "upscale", "write_aligned_pair", "write_overlay", "write_report",
]
