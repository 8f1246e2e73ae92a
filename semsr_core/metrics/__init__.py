"""Metrics of super-resolved images and the evaluation report (SPEC §9).

- :mod:`~semsr_core.metrics.full_reference` — PSNR, SSIM, MSE against aligned HR, also
  inside defect masks and on the background (defect fidelity).
- :mod:`~semsr_core.metrics.no_reference` — Sobel gradient maps and their statistics.
- :mod:`~semsr_core.metrics.niqe` — NIQE, the no-reference naturalness measure of [S3].
- :mod:`~semsr_core.metrics.spectrum` — radially averaged power spectra and the
  relative spectrum score of [S3] eq. 5.1.
- :mod:`~semsr_core.metrics.evaluation` — :func:`evaluate`: models and the bicubic
  baseline on a dataset, written as a report by :mod:`~semsr_core.metrics.report`.

Images are 2-D float arrays in [0, 1]; the reference (HR) comes first.
"""

from __future__ import annotations

from semsr_core.metrics.evaluation import Evaluation, PairEvaluation, evaluate
from semsr_core.metrics.full_reference import mse, psnr, region_metrics, ssim
from semsr_core.metrics.niqe import niqe
from semsr_core.metrics.no_reference import gradient_map, gradient_stats
from semsr_core.metrics.spectrum import radial_power_spectrum, spectrum_score

__all__ = [
    "Evaluation", "PairEvaluation", "evaluate", "gradient_map", "gradient_stats", "mse",
    "niqe", "psnr", "radial_power_spectrum", "region_metrics", "spectrum_score", "ssim",
]
