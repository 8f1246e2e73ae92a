"""The coherent part of a residual: a lattice below the per-pixel noise is found and
given back; noise, and noise made of whole scan lines, is not."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.infer.coherent import coherent_part


def lattice(n: int, period: float, angle: float, amplitude: float) -> np.ndarray:
    """Two crossed cosine gratings: a lattice of ``period`` pixels, turned by ``angle``."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    out = np.zeros((n, n))
    for turn in (angle, angle + np.pi / 3):
        out += np.cos(2 * np.pi * (xx * np.cos(turn) + yy * np.sin(turn)) / period)
    return amplitude * out / 2


@pytest.mark.parametrize("side", [64, 128, 257])
def test_white_noise_has_no_coherent_part(side):
    found = [np.abs(coherent_part(np.random.default_rng(seed).normal(0, 0.05, (side, side))))
             .max() for seed in range(20)]
    assert max(found) < 0.005  # at most a trace, in rare images


def test_a_lattice_under_the_noise_is_found(rng):
    truth = lattice(96, 3.1, 0.4, 0.04)
    noisy = truth + rng.normal(0, 0.08, truth.shape)  # per pixel, noise twice the lattice
    found = coherent_part(noisy)
    assert np.corrcoef(found.ravel(), truth.ravel())[0, 1] > 0.75
    # soft-thresholded and spread by the window (the period does not divide the side):
    # about half its amplitude, which the guard's iterations add up
    assert 0.3 < np.std(found) / np.std(truth) < 1.0
    assert np.std(found - truth) < 0.25 * np.std(noisy - truth)  # the noise is left out


def test_scan_line_offsets_are_not_a_lattice(rng):
    lines = rng.normal(0, 0.03, (128, 128)) + rng.normal(0, 0.05, (128, 1))
    assert np.abs(coherent_part(lines)).max() < 0.005


def test_tiny_residuals_are_not_judged(rng):
    assert not coherent_part(rng.normal(0, 1, (8, 200))).any()
