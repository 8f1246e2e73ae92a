"""Unpaired training data: LR-domain and HR-domain images that do not correspond.

Used by the unpaired recipes (``fsesim_unpaired``, [S1] §3.4; ``defect_stylizer``,
[S0] App. B.2), where domain X is the (upscaled) LR look and domain Y the HR look
and no alignment is needed. Sample ``index`` is a random LR crop of one X image and
an independent random crop of one Y image; every draw comes from
``default_rng((seed, epoch, index))`` like the paired datasets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semsr_core.data.augment import dihedral
from semsr_core.data.datasets import SeededDataset
from semsr_core.errors import ConfigError


class UnpairedPatches(SeededDataset):
    """``"lr"``: a ``patch × patch`` crop of an X image; ``"hr"``: a ``scale·patch``
    crop of a Y image, each turned by an independent one of the 8 rot90/flip variants.
    ``len = len(x_images) · samples_per_image``."""

    def __init__(self, x_images: Sequence[np.ndarray], y_images: Sequence[np.ndarray], *,
                 scale: int, patch: int, samples_per_image: int = 16, seed: int = 0):
        super().__init__(seed)
        if not x_images or not y_images:
            raise ConfigError("unpaired training needs images of both domains (lr/ and hr/)")
        self.x = [np.asarray(x, dtype=np.float32) for x in x_images]
        self.y = [np.asarray(y, dtype=np.float32) for y in y_images]
        self.scale = int(scale)
        self.patch = int(patch)
        self.samples_per_image = int(samples_per_image)
        small_x = min(min(x.shape) for x in self.x)
        small_y = min(min(y.shape) for y in self.y)
        if small_x < self.patch or small_y < self.patch * self.scale:
            raise ConfigError(
                f"data.lr_patch {self.patch} is too large for the smallest images "
                f"(LR side {small_x}, HR side {small_y} at scale {self.scale})",
                hint="Lower data.lr_patch.")

    def __len__(self) -> int:
        return len(self.x) * self.samples_per_image

    def sample(self, index: int) -> dict[str, np.ndarray]:
        rng = self.rng(index)
        x = self.x[index // self.samples_per_image]
        y = self.y[int(rng.integers(len(self.y)))]
        lr = _crop(x, self.patch, rng)
        hr = _crop(y, self.patch * self.scale, rng)
        lr = dihedral(lr, int(rng.integers(8)))
        hr = dihedral(hr, int(rng.integers(8)))
        return {"lr": lr, "hr": hr}


def _crop(image: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    top = int(rng.integers(0, image.shape[0] - side + 1))
    left = int(rng.integers(0, image.shape[1] - side + 1))
    return image[top:top + side, left:left + side]
