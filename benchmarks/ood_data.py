"""The images of the out-of-domain benchmark, and the part of them training may use.

Shared by ``quality_ood.py`` (which scores on them) and ``train_broad.py`` (which must
never train on what is scored): scikit-image's bundled images are split by region.
The benchmark scores the centre ``TEST_SIDE``² crop of each image; training may take
content only from the strips outside that crop with a ``MARGIN`` around it (images
too small to have such strips give training nothing). The periodic class of the
benchmark is procedural (``semsr_core.data.textures`` lattices and gratings) from
seeds training never uses (``PERIODIC_SEED``…); it is semsr-made, so it is reported
apart from the independent images.
"""

from __future__ import annotations

import functools

import numpy as np

TEST_SIDE = 256
MARGIN = 16
PERIODIC_SEED = 7_700_000

# scikit-image's bundled images (no download), by benchmark class
CLASSES = {
    "natural": ("astronaut", "camera", "chelsea", "coffee", "coins", "moon", "rocket"),
    "texture": ("brick", "grass", "gravel"),
    "microscopy": ("cell", "immunohistochemistry", "microaneurysms", "retina"),
    "document": ("page", "text"),
}


@functools.cache
def natural(name: str) -> np.ndarray:
    """A scikit-image image as float32 gray in [0, 1] (luminance of colour images)."""
    import skimage.data
    from skimage.color import rgb2gray, rgba2rgb

    image = getattr(skimage.data, name)()
    if image.ndim == 3 and image.shape[-1] == 4:
        image = rgba2rgb(image)
    if image.ndim == 3:
        image = rgb2gray(image)
    image = np.asarray(image, dtype=np.float64)
    if image.max() > 1.0:
        image = image / 255.0
    return image.astype(np.float32)


def _centre_box(shape: tuple[int, int], side: int) -> tuple[int, int, int, int]:
    h, w = shape
    sh, sw = min(side, h), min(side, w)
    top, left = (h - sh) // 2, (w - sw) // 2
    return top, top + sh, left, left + sw


def scored_crop(name: str, scale: int) -> np.ndarray:
    """The scored HR image: the centre crop, cropped to a multiple of ``scale``."""
    image = natural(name)
    r0, r1, c0, c1 = _centre_box(image.shape, TEST_SIDE)
    crop = image[r0:r1, c0:c1]
    return crop[: crop.shape[0] // scale * scale, : crop.shape[1] // scale * scale]


def training_strips(name: str, minimum: int = 48) -> list[np.ndarray]:
    """The parts of an image outside its scored crop (plus ``MARGIN``), at least
    ``minimum`` pixels on their short side: the only content training may take from it."""
    image = natural(name)
    r0, r1, c0, c1 = _centre_box(image.shape, TEST_SIDE + 2 * MARGIN)
    strips = [image[:r0, :], image[r1:, :], image[:, :c0], image[:, c1:]]
    return [s for s in strips if min(s.shape) >= minimum]


def all_names() -> list[str]:
    return [name for names in CLASSES.values() for name in names]


def periodic_images(scale: int, count: int = 6) -> list[tuple[str, np.ndarray]]:
    """Held-out lattices and gratings (semsr's texture generators, unseen seeds)."""
    from semsr_core.data.textures import grating, lattice

    images = []
    for i in range(count):
        rng = np.random.default_rng(PERIODIC_SEED + i)
        make = lattice if i % 3 != 2 else grating
        image = make((TEST_SIDE, TEST_SIDE), rng)
        images.append((f"{make.__name__}_{i}", image[: TEST_SIDE // scale * scale,
                                                      : TEST_SIDE // scale * scale]))
    return images
