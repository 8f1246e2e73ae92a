"""Procedural textures for generic training: deterministic, in [0, 1], and periodic where
they claim to be."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.data import textures


@pytest.mark.parametrize("kind", textures.KINDS)
def test_each_texture_is_seeded_and_in_the_unit_range(kind):
    make = getattr(textures, kind)
    a = make((96, 80), np.random.default_rng(3))
    b = make((96, 80), np.random.default_rng(3))
    assert a.shape == (96, 80) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0 and np.ptp(a) > 0.1


def test_a_lattice_has_its_spacing_in_the_spectrum():
    image = textures.lattice((256, 256), np.random.default_rng(0), spacing=8.0,
                             kind="square")
    spectrum = np.abs(np.fft.fft2(image - image.mean()))
    fy, fx = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    freq = np.hypot(min(fy, 256 - fy), min(fx, 256 - fx)) / 256
    assert freq == pytest.approx(1 / 8, rel=0.1)  # the strongest peak: 1 / spacing


def test_random_textures_vary():
    rng = np.random.default_rng(1)
    images = [textures.random_texture((64, 64), rng) for _ in range(6)]
    assert len({round(float(i.mean()), 3) for i in images}) == 6
