"""Procedural textures and periodic structures for training generic models.

The SEM simulator (:mod:`semsr_core.data.simulate`) draws semiconductor layouts. A model
trained on those alone paints layouts into everything else: it erased the periodic
lattice of atomic-resolution images and darkened natural ones. These generators add
content the simulator does not make, at many scales and orientations:

- :func:`lattice` — Gaussian blobs on a square, hexagonal or oblique lattice (spacing,
  angle, blob width, a second sub-lattice, vacancies and strain), as in
  atomic-resolution (S)TEM images and contact-hole arrays;
- :func:`grating` — sums of oriented sinusoids and square waves (line/space patterns,
  moiré);
- :func:`fractal_noise` — isotropic 1/f^β noise (rough surfaces, grain);
- :func:`cells` — Voronoi cells with bright walls (grains, foams, biological tissue).

Each takes a shape and a :class:`numpy.random.Generator` and returns float32 in [0, 1];
:func:`random_texture` draws one of them with random parameters. Seeded and
deterministic, like the simulator.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

KINDS = ("lattice", "grating", "fractal_noise", "cells")


def _stretch(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rescale to a random sub-range of [0, 1] (contrast and brightness vary)."""
    lo, hi = float(image.min()), float(image.max())
    unit = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    contrast = rng.uniform(0.3, 1.0)
    base = rng.uniform(0.0, 1.0 - contrast)
    return (base + contrast * unit).astype(np.float32)


def lattice(shape: tuple[int, int], rng: np.random.Generator, *,
            spacing: float | None = None, kind: str | None = None) -> np.ndarray:
    """Gaussian blobs on a 2-D lattice with random spacing (3–24 px), angle and width."""
    h, w = shape
    spacing = float(spacing if spacing is not None else math.exp(rng.uniform(math.log(3),
                                                                           math.log(24))))
    kind = kind or str(rng.choice(["square", "hexagonal", "oblique"]))
    angle = rng.uniform(0, math.pi)
    if kind == "square":
        b = (1.0, 0.0), (0.0, 1.0)
    elif kind == "hexagonal":
        b = (1.0, 0.0), (0.5, math.sqrt(3) / 2)
    else:
        b = (1.0, 0.0), (rng.uniform(-0.5, 0.5), rng.uniform(0.6, 1.3))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    a1, a2 = (rot @ np.asarray(v) * spacing for v in b)
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    # slow strain: the lattice bends a little across the field
    strain = rng.uniform(0, 0.02) * spacing
    yy = yy + strain * np.sin(xx / max(w, 1) * 2 * math.pi * rng.uniform(0.5, 2))
    points = np.stack([yy.ravel(), xx.ravel()])
    basis = np.stack([a1, a2], axis=1)  # columns: lattice vectors (y, x)
    frac = np.linalg.solve(basis, points - rng.uniform(0, spacing, (2, 1)))
    nearest = np.rint(frac)
    offset = basis @ (frac - nearest)  # displacement to the nearest lattice point
    sigma = spacing * rng.uniform(0.12, 0.3)
    dist2 = (offset ** 2).sum(axis=0)
    image = np.exp(-dist2 / (2 * sigma ** 2))
    if rng.random() < 0.5:  # a second, dimmer sub-lattice between the first
        frac2 = frac - 0.5
        off2 = basis @ (frac2 - np.rint(frac2))
        image = image + rng.uniform(0.2, 0.7) * np.exp(-(off2 ** 2).sum(axis=0)
                                                       / (2 * sigma ** 2))
    if rng.random() < 0.5:  # vacancies: some sites are empty
        keys = nearest[0] * 7919 + nearest[1]
        empty = (np.sin(keys * 12.9898 + rng.uniform(0, 100)) * 43758.5453) % 1 < 0.05
        image = np.where(empty, image * 0.15, image)
    return _stretch(image.reshape(h, w), rng)


def grating(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One to three oriented sinusoids or square waves (periods 2.5–40 px)."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    image = np.zeros(shape)
    for _ in range(int(rng.integers(1, 4))):
        period = math.exp(rng.uniform(math.log(2.5), math.log(40)))
        angle = rng.uniform(0, math.pi)
        phase = (xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period
        wave = np.sin(phase + rng.uniform(0, 2 * math.pi))
        if rng.random() < 0.5:
            wave = np.tanh(wave * rng.uniform(2, 8))  # square-ish: lines and spaces
        image += rng.uniform(0.3, 1.0) * wave
    return _stretch(image, rng)


def fractal_noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Isotropic noise with a 1/f^β power spectrum, β in [1.5, 3.5]."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.sqrt(fy ** 2 + fx ** 2)
    radius[0, 0] = 1.0
    beta = rng.uniform(1.5, 3.5)
    amplitude = radius ** (-beta / 2)
    amplitude[0, 0] = 0.0
    spectrum = amplitude * np.exp(2j * math.pi * rng.random(amplitude.shape))
    return _stretch(np.fft.irfft2(spectrum, s=shape), rng)


def cells(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Voronoi cells (sizes 6–60 px) with bright walls and a shade per cell."""
    h, w = shape
    size = math.exp(rng.uniform(math.log(6), math.log(60)))
    count = max(2, int(h * w / size ** 2))
    seeds = np.zeros(shape, dtype=np.int32)
    ys, xs = rng.integers(0, h, count), rng.integers(0, w, count)
    seeds[ys, xs] = np.arange(1, count + 1)
    _, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    labels = seeds[iy, ix]
    shade = rng.uniform(0.2, 0.8, count + 1)[labels]
    walls = (ndimage.maximum_filter(labels, 3) != ndimage.minimum_filter(labels, 3))
    walls = ndimage.gaussian_filter(walls.astype(np.float64), rng.uniform(0.5, 1.5))
    return _stretch(shade + rng.uniform(0.5, 2.0) * walls, rng)


def random_texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One of :data:`KINDS` with random parameters, sometimes blurred a little."""
    kind = str(rng.choice(KINDS))
    image = {"lattice": lattice, "grating": grating, "fractal_noise": fractal_noise,
             "cells": cells}[kind](shape, rng)
    if rng.random() < 0.3:
        image = ndimage.gaussian_filter(image, rng.uniform(0.3, 1.2))
    return np.clip(image, 0.0, 1.0).astype(np.float32)
