"""Gradient-magnitude maps and their statistics: sharpness without pixel alignment.

[S1] App. B judges super-resolution by the gradient maps of LR↑, SR and HR: HR has
thin, strong edges; a blurry result has weak, wide ones; a noisy one has gradient
everywhere. These numbers need no aligned reference, so they also describe pairs
whose HR is only a similar image of the same sample.

The gradient map is :func:`skimage.filters.sobel`: the Sobel magnitude
``sqrt((Gx² + Gy²) / 2)`` with kernels normalised so that a unit step between two
flat regions gives ``1/√2`` on the two pixels beside it.
"""

from __future__ import annotations

import numpy as np

#: A reference whose edge strength is below this is flat (no sharpness ratio).
FLAT_GRADIENT = 1e-9
#: Percentile used as "edge strength": the gradient that only the strongest 5% exceed.
EDGE_PERCENTILE = 95.0


def gradient_map(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of a 2-D image (same shape, float64)."""
    from skimage.filters import sobel

    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"gradient maps are of 2-D images, not shape {array.shape}")
    return sobel(array)


def gradient_stats(image: np.ndarray, reference: np.ndarray | None = None
                   ) -> dict[str, float | None]:
    """Statistics of the gradient map of ``image``.

    Returns ``grad_mean``, ``grad_std`` and ``grad_p95`` (the 95th percentile: the
    strength of the strongest edges), and ``sharpness_ratio`` = ``grad_p95`` of the
    image ÷ ``grad_p95`` of ``reference`` (normally HR; any size, it need not be
    aligned): 1 means edges as strong as HR's, below 1 blurrier, above 1 over-sharpened
    or noisy. ``sharpness_ratio`` is ``None`` without a reference or when the
    reference is flat (its ``grad_p95`` below :data:`FLAT_GRADIENT`).
    """
    grad = gradient_map(image)
    p95 = float(np.percentile(grad, EDGE_PERCENTILE))
    stats: dict[str, float | None] = {
        "grad_mean": float(grad.mean()),
        "grad_std": float(grad.std()),
        "grad_p95": p95,
        "sharpness_ratio": None,
    }
    if reference is not None:
        ref_p95 = float(np.percentile(gradient_map(reference), EDGE_PERCENTILE))
        stats["sharpness_ratio"] = p95 / ref_p95 if ref_p95 > FLAT_GRADIENT else None
    return stats
