"""The coherent part of a residual: periodic structure the scan measured beyond its noise.

A lattice of atom columns in a noisy scan can have a per-pixel amplitude below the noise
and still be measured with certainty: in the Fourier domain its energy is gathered in a
few sharp peaks, each far above the noise, which spreads evenly over all frequencies. A
network that denoises such a scan may take the lattice for noise and erase it (what the
old bundled models did to atomic-resolution STEM, issue 12); the per-pixel test of the
consistency guard cannot see that, this can.

:func:`coherent_part` keeps, of a residual ``LR − D(SR)``, only the Fourier coefficients
that stand far above the noise floor at their own frequency — a lattice, a grating,
stripes the network removed or invented — soft-thresholded, and gives them back on the
LR grid. The floor is the residual's own: the median power of its ring of frequencies
(white noise has the same power at every frequency of a ring, a peak is rare in it), so
it needs no noise estimate and follows noise the network left partly coloured. Noise
made of whole scan lines (line offsets, which the network may rightly remove) lies on
the frequency axes and is white along them; the axes are judged against their own
median, so such noise is not a peak, while a lattice's peaks on an axis still are.
"""

from __future__ import annotations

import numpy as np

PEAK_MARGIN = 6.0
"""``ln(number of coefficients) + PEAK_MARGIN`` is how many times the mean noise power a
coefficient must exceed to count as measured: a pure-noise residual then has one false
peak in about e^6 ≈ 400 images (the power of white noise at one frequency is
exponentially distributed)."""
MIN_SIDE = 16
"""Residuals smaller than this (either side) have too few frequencies to judge."""
RINGS = 32
"""The most frequency rings the noise floor is measured on."""
MIN_RING = 256
"""The fewest frequencies in one ring (the median of 256 is within about 6 %)."""


def coherent_part(residual: np.ndarray) -> np.ndarray:
    """The periodic structure in ``residual`` that stands above its noise (same shape)."""
    residual = np.asarray(residual, np.float64)
    h, w = residual.shape
    if min(h, w) < MIN_SIDE:
        return np.zeros_like(residual, np.float32)
    spectrum = np.fft.rfft2(residual - residual.mean())
    power = np.abs(spectrum) ** 2
    floor = _noise_floor(power, h, w)
    threshold = (np.log(power.size) + PEAK_MARGIN) * floor
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(power > threshold, 1.0 - np.sqrt(threshold / power), 0.0)
    gain[0, 0] = 0.0  # the mean is the low band's, not a peak
    if not gain.any():
        return np.zeros_like(residual, np.float32)
    return np.fft.irfft2(spectrum * gain, s=(h, w)).astype(np.float32)


def _noise_floor(power: np.ndarray, h: int, w: int) -> np.ndarray:
    """The mean noise power at each frequency of an ``rfft2`` spectrum: the median of
    its ring ÷ ln 2 (the median of an exponential distribution); the two axes by their
    own median. The rings hold equal numbers of frequencies (at least
    :data:`MIN_RING` each), so that each median is as sure as the others."""
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :]
    on_axis = np.broadcast_to((ky == 0) | (kx == 0), power.shape)
    radius = np.broadcast_to(np.sqrt(ky ** 2 + kx ** 2), power.shape)[~on_axis]
    values = power[~on_axis]
    order = np.argsort(radius, kind="stable")
    rings = max(1, min(RINGS, values.size // MIN_RING))
    floor_off = np.empty_like(values)
    for chunk in np.array_split(order, rings):
        floor_off[chunk] = np.median(values[chunk])
    floor = np.empty_like(power)
    floor[~on_axis] = floor_off
    floor[on_axis] = np.median(power[on_axis])
    return floor / np.log(2.0)
