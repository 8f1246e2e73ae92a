"""Datasets of the LR image's non-overlapping α×α tiles, each in several turned copies:
[S0]'s rotated tiles (:class:`RotatedTiles`, the ``en1`` set) and the clean HR "real"
stream of a PatchGAN (:class:`CleanHR`); :class:`SyntheticDefects` builds on them."""

from __future__ import annotations

import math

import numpy as np

from semsr_core.data.augment import (
    context_margin,
    pair_windows,
    rotation,
    warp_tile,
    warp_windows,
)
from semsr_core.data.datasets.base import SeededDataset, _check_positive
from semsr_core.data.datasets.training_pairs import TrainingPairs


class _TileCopies(SeededDataset):
    """``copies`` variants of every non-overlapping α×α LR tile; copy i is turned by
    ``i · angle_step`` about the tile centre (corners from the tile's surroundings)."""

    def __init__(self, pairs: TrainingPairs, alpha: int, copies: int, angle_step: float,
                 seed: int, order: int):
        super().__init__(seed)
        self.pairs = pairs
        self.alpha = _check_positive("alpha", alpha)
        self.copies = _check_positive("copies", copies)
        self.angle_step = float(angle_step)
        self.order = int(order)
        self._tiles = pairs.tiles(self.alpha)

    @property
    def scale(self) -> int:
        return self.pairs.scale

    @property
    def n_tiles(self) -> int:
        return len(self._tiles)

    def __len__(self) -> int:
        return self.n_tiles * self.copies

    def locate(self, index: int) -> tuple[int, int, int, int]:
        """(image, top, left, copy) of sample ``index``: LR tile position and copy number."""
        tile, copy = divmod(self._index(index), self.copies)
        image, top, left = (int(v) for v in self._tiles[tile])
        return image, top, left, copy

    def angle(self, index: int) -> float:
        """Rotation (radians, counter-clockwise) of sample ``index``."""
        return self.locate(index)[3] * self.angle_step

    def _windows(self, index: int):
        image, top, left, copy = self.locate(index)
        matrix = rotation(copy * self.angle_step)
        margin = context_margin(self.alpha, matrix, self.order)
        lr_win, hr_win = pair_windows(self.pairs.lr[image], self.pairs.hr[image], self.scale,
                                      top, left, self.alpha, margin)
        s, side = self.scale, self.alpha * self.scale
        mask_win = self.pairs.mask_region(image, s * top, s * left, side, side, s * margin)
        return lr_win, hr_win, mask_win, matrix, margin

    def real_stream(self) -> CleanHR:
        """The clean HR tiles of this dataset, turned the same way, for a PatchGAN's
        "real" input ([S0] §3.3): nothing is ever pasted into them."""
        return CleanHR(self.pairs, alpha=self.alpha, copies=self.copies,
                       angle_step=self.angle_step, seed=self.seed, order=self.order)



class RotatedTiles(_TileCopies):
    """The ``en1`` training set ([S0] §4.2.1): every non-overlapping α×α LR tile (and its
    HR tile) turned by each of the ``n`` angles ``k·2π/n``; ``len = tiles · n``."""

    def __init__(self, pairs: TrainingPairs, *, alpha: int = 64, n: int = 16, seed: int = 0,
                 order: int = 3):
        n = _check_positive("n", n)
        super().__init__(pairs, alpha, n, 2.0 * math.pi / n, seed, order)

    def sample(self, index: int) -> dict[str, np.ndarray]:
        lr_win, hr_win, mask_win, matrix, _ = self._windows(index)
        lr, hr, mask = warp_windows(lr_win, hr_win, mask_win, matrix, self.alpha, self.scale,
                                    order=self.order)
        return {"lr": lr, "hr": hr, "mask": mask}


class CleanHR(_TileCopies):
    """The PatchGAN "real" stream ([S0] §3.3): clean HR tiles only (``"hr"``), turned
    like the samples of the dataset they come from; never any pasted content."""

    def __init__(self, pairs: TrainingPairs, *, alpha: int = 64, copies: int = 128,
                 angle_step: float = math.pi / 128, seed: int = 0, order: int = 3):
        super().__init__(pairs, alpha, copies, angle_step, seed, order)

    def sample(self, index: int) -> dict[str, np.ndarray]:
        _lr_win, hr_win, _mask_win, matrix, _ = self._windows(index)
        side = self.alpha * self.scale
        return {"hr": warp_tile(hr_win, matrix, (side, side), order=self.order)}
