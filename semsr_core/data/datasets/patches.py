"""Random aligned LR/HR patch crops with a geometric augmentation
(:class:`PairedPatches`): the training set of the recipes without synthetic defects."""

from __future__ import annotations

import math

import numpy as np

from semsr_core.data.augment import (
    context_margin,
    dihedral,
    pair_windows,
    random_stretch_shear,
    rotation,
    warp_windows,
)
from semsr_core.data.datasets.base import SeededDataset, _check_positive
from semsr_core.data.datasets.training_pairs import TrainingPairs
from semsr_core.errors import ConfigError

GEOMETRIC = ("none", "rot90flip", "rot16", "stretch_shear")


class PairedPatches(SeededDataset):
    """Random aligned LR/HR patch crops with geometric augmentation (recipes without
    synthetic defects).

    Sample ``index`` is a ``patch × patch`` LR crop of image ``index // samples_per_image``
    at a random place (top, left) and the HR crop at (scale·top, scale·left), then
    ``geometric``: ``"none"``, ``"rot90flip"`` (one of the 8 variants), ``"rot16"`` (a
    turn by k·2π/16) or ``"stretch_shear"`` ([S0] appendix A, up to ``max_stretch`` and
    ``max_shear``). ``len = N · samples_per_image``.
    """

    def __init__(self, pairs: TrainingPairs, *, patch: int = 32, samples_per_image: int = 16,
                 geometric: str = "rot90flip", max_stretch: float = 0.2,
                 max_shear: float = 0.2, seed: int = 0, order: int = 3):
        super().__init__(seed)
        if geometric not in GEOMETRIC:
            raise ConfigError(f"augmentation.geometric {geometric!r} is not one of "
                              f"{', '.join(GEOMETRIC)}")
        self.pairs = pairs
        self.patch = _check_positive("patch", patch)
        self.samples_per_image = _check_positive("samples_per_image", samples_per_image)
        too_small = [n for n, lr in zip(pairs.names, pairs.lr, strict=True)
                     if min(lr.shape) < self.patch]
        if too_small:
            smallest = min(min(lr.shape) for lr in pairs.lr)
            raise ConfigError(f"the training patch of {self.patch} LR pixels (data.lr_patch) "
                              f"is larger than the LR image of {too_small[0]}",
                              hint=f"Lower it, e.g. --set data.lr_patch={smallest}, or use "
                                   "larger images.")
        self.geometric = geometric
        self.max_stretch = float(max_stretch)
        self.max_shear = float(max_shear)
        self.order = int(order)

    @property
    def scale(self) -> int:
        return self.pairs.scale

    def __len__(self) -> int:
        return len(self.pairs) * self.samples_per_image

    def _locate(self, index: int, rng: np.random.Generator) -> tuple[int, int, int]:
        image = index // self.samples_per_image
        h, w = self.pairs.lr[image].shape
        top = int(rng.integers(0, h - self.patch + 1))
        left = int(rng.integers(0, w - self.patch + 1))
        return image, top, left

    def locate(self, index: int) -> tuple[int, int, int]:
        """(image, top, left) of the LR crop of sample ``index``; HR is at ×scale."""
        index = self._index(index)
        return self._locate(index, self.rng(index))

    def sample(self, index: int) -> dict[str, np.ndarray]:
        rng = self.rng(index)
        image, top, left = self._locate(index, rng)
        p, s = self.patch, self.scale
        if self.geometric in ("none", "rot90flip"):
            lr = self.pairs.lr[image][top:top + p, left:left + p]
            hr = self.pairs.hr[image][s * top:s * (top + p), s * left:s * (left + p)]
            mask = self.pairs.mask_region(image, s * top, s * left, s * p, s * p)
            if self.geometric == "rot90flip":
                k = int(rng.integers(8))
                lr, hr, mask = dihedral(lr, k), dihedral(hr, k), dihedral(mask, k)
        else:
            if self.geometric == "rot16":
                matrix = rotation(int(rng.integers(16)) * 2.0 * math.pi / 16)
            else:
                matrix = random_stretch_shear(rng, self.max_stretch, self.max_shear)
            margin = context_margin(p, matrix, self.order)
            lr_win, hr_win = pair_windows(self.pairs.lr[image], self.pairs.hr[image], s,
                                          top, left, p, margin)
            mask_win = self.pairs.mask_region(image, s * top, s * left, s * p, s * p,
                                              s * margin)
            lr, hr, mask = warp_windows(lr_win, hr_win, mask_win, matrix, p, s,
                                        order=self.order)
        return {"lr": lr, "hr": hr, "mask": mask}
