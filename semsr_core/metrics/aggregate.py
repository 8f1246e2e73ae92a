"""The aggregate of an evaluation: per method, the mean of each metric over the pairs
that have it (a PSNR capped at the ceiling per pair), and the defect-recognition figures
pooled over the tiles of all pairs. Used by :func:`~semsr_core.metrics.evaluation.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from semsr_core.metrics.defect_recognition import pooled
from semsr_core.metrics.full_reference import mean_psnr
from semsr_core.metrics.modes import SKIPPED


def finite_mean(values: list[float | None], psnr: bool = False) -> float | None:
    """The mean of the values that are given and not NaN; for a PSNR, each capped at
    the ceiling (:func:`~semsr_core.metrics.full_reference.mean_psnr`: an exact pair's
    ``inf`` would make the mean ``inf``)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None
    return mean_psnr(values) if psnr else float(np.mean(values))


def aggregate(pairs: Sequence[Any], methods: Sequence[str]
              ) -> dict[str, dict[str, float | int | None]]:
    """Per method, the mean of each metric over the pairs (``PairEvaluation``) that have
    it, and the counts."""
    evaluated = [p for p in pairs if p.mode != SKIPPED]
    out: dict[str, dict[str, float | int | None]] = {}
    for method in methods:
        keys = sorted({k for p in evaluated for k in p.metrics.get(method, {})})
        row: dict[str, float | int | None] = {
            "pairs_evaluated": len(evaluated),
            "pairs_full_reference": sum(p.full_reference for p in evaluated),
            "pairs_with_defects": sum(bool(p.defect_pixels) for p in evaluated),
        }
        for key in keys:
            row[key] = finite_mean([p.metrics[method].get(key) for p in evaluated
                                    if method in p.metrics], psnr=key.endswith("psnr"))
        out[method] = row
    return out


def pool_recognition(results: Sequence[Any], methods: Sequence[str],
                     table: dict[str, dict[str, float | int | None]],
                     hr: dict[str, float | None]) -> None:
    """Replace the per-pair means of the recognition figures by their values over all
    tiles of all pairs (pairs differ in their number of defect tiles)."""
    counted = [p.recognition for p in results if p.recognition]
    if not counted:
        return
    for method in methods:
        table[method].update(pooled(counted, method))
    hr.update(pooled(counted, "hr"))
