"""Datasets that paste foreign content into the pairs: [S0]'s synthetic defects in
turned tiles (:class:`SyntheticDefects`) and [S1]'s ZSSR patch pasting into whole
images (:class:`ZssrPasted`); the pasted area is the sample's ``"mask"``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from semsr_core.data.augment import warp_windows
from semsr_core.data.datasets.base import SeededDataset, _check_positive, _lr_maker
from semsr_core.data.datasets.tiles import _TileCopies
from semsr_core.data.datasets.training_pairs import TrainingPairs
from semsr_core.data.defects import DefectSource, LrMaker, add_defects, paste_crops


class SyntheticDefects(_TileCopies):
    """Synthetic defects, [S0] Algorithm 1 (the ``en1_defects`` recipe).

    From every non-overlapping α×α LR tile x make β copies; copy i gets ``count``
    random-shaped patches (polygon or blob) cut from random images of the defect source
    F — the LR version of the patch (made by ``degradation``, the lab's own) into the LR
    tile and the HR version at the same place ×scale into the HR tile — and is then
    turned by θ_i = π·i/β. ``len = N·⌊W/α⌋·⌊H/α⌋·β``.

    Args:
        pairs: the aligned training images.
        source: F; the scikit-image natural images by default.
        degradation: name of the lab's degradation (``bicubic``, ``crappify``, ``area``,
            ``sem-noise``), with ``degradation_params``, or a callable ``(hr, rng) -> lr``.
        alpha, beta: tile side (LR pixels) and copies per tile ([S0]: 64 and 128).
        count: patches per copy ([S0]: 1).
        size_range: patch side range in LR pixels (inclusive).
        shape: ``"random"`` (polygon or blob), ``"polygon"``, ``"blob"`` or ``"rect"``.
        seed: with the epoch and index, fixes every random draw.
        order: spline order of the rotation (3 = cubic).
    """

    def __init__(self, pairs: TrainingPairs, *, source: DefectSource | None = None,
                 degradation: str | LrMaker = "bicubic", degradation_params: dict | None = None,
                 alpha: int = 64, beta: int = 128, count: int = 1,
                 size_range: tuple[int, int] = (8, 24), shape: str = "random", seed: int = 0,
                 order: int = 3):
        beta = _check_positive("beta", beta)
        super().__init__(pairs, alpha, beta, math.pi / beta, seed, order)
        self.beta = beta
        self.source = source if source is not None else DefectSource.default()
        self.make_lr = _lr_maker(degradation, pairs.scale, degradation_params)
        self.count = _check_positive("count", count)
        self.size_range = (int(size_range[0]), int(size_range[1]))
        self.shape = shape

    def sample(self, index: int) -> dict[str, np.ndarray]:
        lr_win, hr_win, mask_win, matrix, margin = self._windows(index)
        add_defects(lr_win, hr_win, mask_win, self.source, self.rng(index), self.scale,
                    self.make_lr, count=self.count, size_range=self.size_range,
                    shape=self.shape, region=(margin, margin, self.alpha, self.alpha))
        lr, hr, mask = warp_windows(lr_win, hr_win, mask_win, matrix, self.alpha, self.scale,
                                    order=self.order)
        return {"lr": lr, "hr": hr, "mask": mask}



class ZssrPasted(SeededDataset):
    """ZSSR-style patch pasting ([S1] §3.2.1): for every image the original plus ``n2``
    copies, each with ``n1`` square crops (sides drawn from ``sizes``, LR pixels) of one
    random image of F pasted at random places — the LR version into LR, the HR version
    at ×scale into HR. ``len = N · (n2 + 1)``; copy 0 of each image is the original.

    With ``patch`` set, a random aligned crop of that LR size is returned (after the
    pasting, as in [S1] where training crops are taken from the pasted images).
    [S1] pasted into an input that was already upscaled to the HR size: pass such pairs
    with ``scale = 1`` and ``degradation=None`` to paste the same crop into both.
    """

    def __init__(self, pairs: TrainingPairs, *, source: DefectSource | None = None,
                 degradation: str | LrMaker | None = "bicubic",
                 degradation_params: dict | None = None, n1: int = 10, n2: int = 1,
                 sizes: Sequence[int] = (4, 8, 12, 16, 24), patch: int | None = None,
                 seed: int = 0):
        super().__init__(seed)
        self.pairs = pairs
        self.source = source if source is not None else DefectSource.default()
        self.make_lr = _lr_maker(degradation, pairs.scale, degradation_params)
        self.n1 = _check_positive("n1", n1)
        self.n2 = _check_positive("n2", n2)
        self.sizes = tuple(_check_positive("sizes", v) for v in sizes)
        self.patch = None if patch is None else _check_positive("patch", patch)

    @property
    def scale(self) -> int:
        return self.pairs.scale

    def __len__(self) -> int:
        return len(self.pairs) * (self.n2 + 1)

    def sample(self, index: int) -> dict[str, np.ndarray]:
        rng = self.rng(index)
        image, copy = divmod(index, self.n2 + 1)
        lr = self.pairs.lr[image].copy()
        hr = self.pairs.hr[image].copy()
        mask = self.pairs.mask_region(image, 0, 0, *hr.shape)
        if copy > 0:
            paste_crops(lr, hr, mask, self.source, rng, self.scale, self.make_lr,
                        n1=self.n1, sizes=self.sizes)
        if self.patch is not None:
            p, s = min(self.patch, *lr.shape), self.scale
            top = int(rng.integers(0, lr.shape[0] - p + 1))
            left = int(rng.integers(0, lr.shape[1] - p + 1))
            lr = lr[top:top + p, left:left + p]
            hr = hr[s * top:s * (top + p), s * left:s * (left + p)]
            mask = mask[s * top:s * (top + p), s * left:s * (left + p)]
        return {"lr": lr, "hr": hr, "mask": mask}
