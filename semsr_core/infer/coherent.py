"""The coherent part of a residual: periodic structure the scan measured beyond its noise.

A lattice of atom columns in a noisy scan can have a per-pixel amplitude below the noise
and still be measured with certainty: in the Fourier domain its energy is gathered in a
few sharp peaks, each far above the noise, which spreads evenly over all frequencies. A
network that denoises such a scan may take the lattice for noise and erase it (what the
old bundled models did to atomic-resolution STEM, issue 12); the per-pixel test of the
consistency guard cannot see that, this can.

:func:`periodic_gain` finds, in a residual ``LR − D(SR)``, the Fourier coefficients that
stand far above the noise floor at their own frequency — a lattice, a grating, stripes
the network removed or invented — and gives each a gain, the peak less the threshold
(soft; :func:`apply_gain` keeps those frequencies of any residual). The floor is the
residual's own: the median power of its ring of frequencies (white noise has the same
power at every frequency of a ring, a peak is rare in it), so it needs no noise
estimate. The residual given is high-passed (the guard's low band taken away); that
filter's known response is divided out first, so that the noise is flat again across
the rings. Noise made of whole scan lines (line offsets, which the network may rightly
remove) lies on the frequency axes and is white along them; the axes are judged against
their own median, so such noise is not a peak, while a lattice's peaks on an axis still
are.

The guard decides once, on the network's own residual, which frequencies are such
structure; its projection then puts back those frequencies only. (Deciding again at
each of its steps would let the steps' own put-back of single noisy pixels, which is not
white, read as peaks.) A lattice found in the Fourier domain is perfect; the scan's is
not: :func:`local_gate` keeps it only where the scan shows it, so a vacancy is not
painted in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

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
GATE_PERIODS = 0.35
"""The window (Gaussian σ, in periods of the structure) of :func:`local_gate`."""
MIN_RESPONSE = 0.3
"""Frequencies the high-pass keeps less of than this are the low band's, not judged."""


def periodic_gain(residual: np.ndarray, highpass_width: float = 0.0) -> np.ndarray | None:
    """Per frequency (``rfft2`` layout) the share of ``residual`` that is periodic
    structure above the noise; None where there is none. ``highpass_width``: the width
    (pixels) of the Gaussian whose blur was taken away from the residual, 0 for none."""
    residual = np.asarray(residual, np.float64)
    h, w = residual.shape
    if min(h, w) < MIN_SIDE:
        return None
    power = np.abs(np.fft.rfft2(residual - residual.mean())) ** 2
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :]
    response = 1.0 - np.exp(-2 * np.pi ** 2 * highpass_width ** 2 * (ky ** 2 + kx ** 2))
    usable = (response > MIN_RESPONSE) if highpass_width > 0 else np.ones(power.shape, bool)
    usable[0, 0] = False  # the mean is the low band's, not a peak
    power = power / np.maximum(response, MIN_RESPONSE) ** 2 if highpass_width > 0 else power
    floor = _noise_floor(power, h, w)
    peaks = usable & (power > (np.log(power.size) + PEAK_MARGIN) * floor)
    if not peaks.any():
        return None
    # soft: each peak less the threshold. (A Wiener gain on the peaks and their leakage
    # neighbours put back more of a noisy lattice, +2.6 against +1.9 dB at ×4, but
    # cost the simulator's defect regions 0.05 dB: what is not perfectly periodic there.)
    threshold = (np.log(power.size) + PEAK_MARGIN) * floor
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peaks, 1.0 - np.sqrt(threshold / power), 0.0)


def apply_gain(residual: np.ndarray, gain: np.ndarray | None) -> np.ndarray:
    """The frequencies of ``residual`` that ``gain`` (:func:`periodic_gain`) keeps."""
    residual = np.asarray(residual, np.float64)
    if gain is None:
        return np.zeros(residual.shape, np.float32)
    spectrum = np.fft.rfft2(residual - residual.mean())
    return np.fft.irfft2(spectrum * gain, s=residual.shape).astype(np.float32)


def local_gate(residual: np.ndarray, periodic: np.ndarray) -> np.ndarray:
    """Where the scan shows the periodic structure (1) and where it does not (0), smooth
    in between: a lattice found in the Fourier domain is perfect, a vacancy or a defect
    in it is not. ``periodic`` is kept where, over about a third of a period, it explains
    ``residual`` better than nothing does — at a missing atom it does not (the scan
    measured none there), and the missing atom is not painted in. (A third of a period:
    wider windows reach the neighbours, which do show the lattice, and fill vacancies
    in; narrower ones judge single noisy pixels: measured on a noisy lattice with 4 %
    vacancies, ``tests/infer/test_infer_consistency.py``.)"""
    residual = np.asarray(residual, np.float64)
    periodic = np.asarray(periodic, np.float64)
    width = float(np.clip(GATE_PERIODS * dominant_period(periodic), 0.5, 4.0))
    explained = ndimage.gaussian_filter((residual - periodic) ** 2, width, mode="nearest")
    unexplained = ndimage.gaussian_filter(residual ** 2, width, mode="nearest")
    shown = (explained < unexplained).astype(np.float64)
    return ndimage.gaussian_filter(shown, 0.5 * width, mode="nearest").astype(np.float32)


def dominant_period(periodic: np.ndarray) -> float:
    """The period (pixels) of the strongest frequency of ``periodic``."""
    h, w = periodic.shape
    power = np.abs(np.fft.rfft2(periodic)) ** 2
    power[0, 0] = 0.0
    iy, ix = np.unravel_index(int(np.argmax(power)), power.shape)
    k = float(np.hypot(np.fft.fftfreq(h)[iy], np.fft.rfftfreq(w)[ix]))
    return 1.0 / k if k > 0 else 2.0


@dataclass(frozen=True)
class PeriodicStructure:
    """What :func:`find_periodic` decided on one residual: the frequencies (``gain``,
    :func:`periodic_gain`) and where the scan shows them (``gate``, :func:`local_gate`);
    both None where there is no such structure."""

    gain: np.ndarray | None = None
    gate: np.ndarray | None = None

    def part(self, residual: np.ndarray) -> np.ndarray:
        """Those frequencies of ``residual`` (same grid as the decision), where shown."""
        periodic = apply_gain(residual, self.gain)
        return periodic if self.gate is None else periodic * self.gate


def find_periodic(residual: np.ndarray, highpass_width: float = 0.0) -> PeriodicStructure:
    """The periodic structure that stands above the noise of ``residual``, and where the
    scan shows it (``highpass_width`` as in :func:`periodic_gain`)."""
    gain = periodic_gain(residual, highpass_width)
    if gain is None:
        return PeriodicStructure()
    return PeriodicStructure(gain, local_gate(residual, apply_gain(residual, gain)))


def coherent_part(residual: np.ndarray, highpass_width: float = 0.0) -> np.ndarray:
    """The periodic structure in ``residual`` that stands above its noise (same shape)."""
    return find_periodic(residual, highpass_width).part(residual)


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
