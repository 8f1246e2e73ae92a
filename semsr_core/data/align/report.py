"""What a folder alignment leaves for a person to check: the report (``report.csv``,
``report.json``) and the overlay PNGs (upscaled LR in magenta over HR in green)."""

from __future__ import annotations

import csv
import io as _text_io
import json
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.io.display import stretch
from semsr_core.io.write import write_bytes_atomic

#: Columns of ``report.csv``, in order.
REPORT_COLUMNS = (
    "stem", "verdict", "reason", "written", "lr_file", "hr_file", "scale", "shift_y",
    "shift_x", "rotation_deg", "scale_factor", "ncc_before", "ncc_after", "peak_ratio",
    "lr_crop", "lr_size", "hr_size", "overlay", "mask",
)

#: Largest side of one panel of an overlay PNG, in pixels.
OVERLAY_PANEL = 384


def overlay_image(lr_up: np.ndarray, hr: np.ndarray, lr_up_after: np.ndarray | None,
                  hr_after: np.ndarray | None) -> np.ndarray:
    """An RGB picture for checking an alignment by eye: before | after.

    Each panel shows the upscaled LR in magenta and HR in green over their common area:
    where they agree the picture is grey, misplaced structure shows magenta/green
    fringes. The "after" panel is black when the pair could not be aligned.
    """
    from skimage.transform import resize

    def panel(a, b):
        h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        a, b = stretch(a[:h, :w]), stretch(b[:h, :w])
        zoom = min(1.0, OVERLAY_PANEL / max(h, w))
        size = (max(1, round(h * zoom)), max(1, round(w * zoom)))
        rgb = np.stack([a, b, a], axis=-1)
        return resize(rgb, (*size, 3), order=1, anti_aliasing=zoom < 1)

    before = panel(np.asarray(lr_up, float), np.asarray(hr, float))
    if lr_up_after is not None and hr_after is not None and hr_after.size:
        after = panel(np.asarray(lr_up_after, float), np.asarray(hr_after, float))
    else:
        after = np.zeros_like(before)
    height = max(before.shape[0], after.shape[0])
    gap = np.ones((height, 4, 3))
    canvas = [np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0))) for p in (before, after)]
    return np.rint(np.concatenate([canvas[0], gap, canvas[1]], axis=1) * 255).astype(np.uint8)



def write_overlay(path: Path, lr: np.ndarray, hr: np.ndarray, result: Any) -> None:
    """The overlay PNG of one aligned pair (``result`` an ``AlignmentResult``), written
    atomically."""
    from semsr_core.data.align.pair import upscale
    from semsr_core.io.picture import png_bytes

    lr_up = upscale(np.asarray(lr, dtype=np.float64), result.scale)
    after = (upscale(np.asarray(result.lr, dtype=np.float64), result.scale)
             if result.lr.size else None)
    picture = overlay_image(lr_up, np.asarray(hr, dtype=np.float64), after,
                            np.asarray(result.hr, dtype=np.float64))
    write_bytes_atomic(path, png_bytes(picture))


def write_report(out: Path, report: dict[str, Any]) -> None:
    """``report.json`` (the whole report) and ``report.csv`` (one row per pair, the
    :data:`REPORT_COLUMNS`), each written atomically."""
    write_bytes_atomic(out / "report.json",
                       json.dumps(report, indent=2, allow_nan=False).encode())
    text = _text_io.StringIO()
    writer = csv.DictWriter(text, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(report["pairs"])
    write_bytes_atomic(out / "report.csv", text.getvalue().encode())
