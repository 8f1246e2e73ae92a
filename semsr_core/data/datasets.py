"""Training datasets: aligned LR/HR pairs turned into augmented samples, lazily.

Every dataset here is a ``torch.utils.data.Dataset`` whose item is a dict of float32
tensors shaped ``1 × h × w``:

* ``"lr"`` — the LR input (``h × w``),
* ``"hr"`` — the HR target (``scale·h × scale·w``),
* ``"mask"`` — 1 where foreign content was pasted into the HR target, else 0.

The real stream for a PatchGAN (:class:`CleanHR`) has ``"hr"`` only. The training
engine draws the items itself, in the main process, and stacks them with torch's
``default_collate``.

Samples are made on the fly, never stored: the synthetic-defect set of [S0] holds
``N·⌊W/α⌋·⌊H/α⌋·β`` samples (20 images × 16 tiles × 128 = 40,960) but costs only the
memory of the N pairs. Every random draw of sample ``index`` comes from
``numpy.random.default_rng((seed, epoch, index))``, so a sample is the same whatever
the order of access or the worker that makes it, and new random content is drawn each
epoch: call :meth:`set_epoch` before each epoch (like ``DistributedSampler``); a
``DataLoader`` with workers sees the new epoch only with ``persistent_workers=False``.

Choosing a dataset by augmentation name (recipes, previews, the CLI):
:func:`training_dataset`.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from semsr_core.data.augment import (
    context_margin,
    dihedral,
    pair_windows,
    random_stretch_shear,
    rotation,
    warp_tile,
    warp_windows,
    window_around,
)
from semsr_core.data.defects import DefectSource, LabDegradation, LrMaker, add_defects, paste_crops
from semsr_core.errors import ConfigError, InputError
from semsr_core.events import EventCallback, EventKind, emit
from semsr_core.io.intensity import check_pixels, to_unit_range

# ----------------------------------------------------------------- the pairs


def _as_unit_float(image: np.ndarray, where: str, mapped: bool) -> np.ndarray:
    """A training image in network units: by the intensity policy, or as it is when the
    caller ``mapped`` it already (then it must be finite float32)."""
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise InputError(f"{where} has shape {arr.shape}; training images must be 2-D "
                         "grayscale", hint="Pass one slice (Y, X) per image.")
    if not mapped:
        return to_unit_range(arr, where)
    return check_pixels(arr, where).astype(np.float32, copy=False)


@dataclass
class TrainingPairs:
    """Aligned LR/HR training images in memory: ``hr[i]`` is exactly ``scale`` times
    ``lr[i]`` in both directions, both float32 in [0, 1]. ``masks[i]``, where given, is
    a boolean HR-sized map of annotated defects in pair i (``None``: no annotation); the
    samples carry it in their ``"mask"`` with any pasted content."""

    lr: list[np.ndarray]
    hr: list[np.ndarray]
    scale: int
    names: list[str]
    masks: list[np.ndarray | None] | None = None

    @classmethod
    def from_arrays(cls, pairs: Sequence[tuple[np.ndarray, np.ndarray]],
                    scale: int | None = None, names: Sequence[str] | None = None,
                    masks: Sequence[np.ndarray | None] | None = None,
                    mapped: bool = False) -> TrainingPairs:
        """Validate ``(lr, hr)`` arrays and the optional defect ``masks`` (nonzero =
        defect, HR-sized). Each image is mapped to network units by the intensity policy
        (:mod:`semsr_core.io.intensity`) unless ``mapped`` says the caller did that
        already (e.g. with its whole stack's mapping). ``scale`` defaults to the size
        ratio of the first pair."""
        if len(pairs) == 0:
            raise InputError("no training pairs were given", hint="Give at least one pair.")
        names = list(names) if names is not None else [f"pair {i}" for i in range(len(pairs))]
        if len(names) != len(pairs):
            raise ValueError("names and pairs differ in length")
        if scale is None:
            lr0, hr0 = np.asarray(pairs[0][0]), np.asarray(pairs[0][1])
            scale = int(hr0.shape[0] // max(lr0.shape[0], 1))
        if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
            raise ConfigError(f"scale must be a positive integer, not {scale!r}",
                              hint="Use e.g. 2 or 4.")
        lrs, hrs = [], []
        for (lr, hr), name in zip(pairs, names, strict=True):
            lr = _as_unit_float(lr, f"{name} (LR)", mapped)
            hr = _as_unit_float(hr, f"{name} (HR)", mapped)
            if hr.shape != (lr.shape[0] * scale, lr.shape[1] * scale):
                raise InputError(
                    f"{name}: HR is {hr.shape[0]}×{hr.shape[1]} but LR is "
                    f"{lr.shape[0]}×{lr.shape[1]}; at scale {scale} HR must be exactly "
                    f"{lr.shape[0] * scale}×{lr.shape[1] * scale}",
                    hint="Align the pair and crop it to the common field of view first "
                         "(semsr align).")
            lrs.append(lr)
            hrs.append(hr)
        return cls(lrs, hrs, int(scale), names, _check_masks(masks, hrs, names))

    @classmethod
    def from_folder(cls, path: str | os.PathLike, scale: int | None = None, *,
                    on_event: EventCallback | None = None) -> TrainingPairs:
        """Load the pairs of a dataset folder with ``lr/`` and ``hr/`` subfolders (files
        matched by name stem, first slice of each stack).

        A pair whose HR is exactly ``scale`` times its LR is taken as aligned; any other
        is aligned with :func:`~semsr_core.data.align.align_pair` and cropped to the
        common field of view. Failed alignments are left out with a warning event
        naming the file; unmatched files are reported the same way.
        """
        from semsr_core.data.align import align_pair
        from semsr_core.data.pairs import find_pairs, infer_scale, load_pair

        root = Path(path)
        lr_dir, hr_dir = root / "lr", root / "hr"
        for sub in (lr_dir, hr_dir):
            if not sub.is_dir():
                raise InputError("the dataset folder has no subfolder "
                                 f"{sub.name!r}", path=root,
                                 hint="Put the LR scans in lr/ and the HR scans in hr/.")
        pairing = find_pairs(lr_dir, hr_dir)
        for item in pairing.unmatched:
            emit(on_event, EventKind.MESSAGE, level="warning",
                 text=f"{item.path}: left out, {item.reason}")
        arrays, names = [], []
        for pair in pairing:
            lr, hr = load_pair(pair)
            s = scale or infer_scale(lr.shape, hr.shape, lr_path=pair.lr_path,
                                     hr_path=pair.hr_path)
            if hr.shape != (lr.shape[0] * s, lr.shape[1] * s):
                result = align_pair(lr, hr, s)
                if result.verdict == "failed":
                    emit(on_event, EventKind.MESSAGE, level="warning",
                         text=f"{pair.lr_path}: left out, alignment failed "
                              f"({result.reason})")
                    continue
                lr, hr = result.lr, result.hr
            if scale is None:
                scale = s
            arrays.append((lr, hr))
            names.append(str(pair.lr_path))
        if not arrays:
            raise InputError("no pair of the dataset could be used", path=root,
                             hint="Check the warnings above; align the pairs first "
                                  "(semsr align).")
        return cls.from_arrays(arrays, scale=scale, names=names)

    def __len__(self) -> int:
        return len(self.lr)

    def mask_region(self, image: int, top: int, left: int, height: int, width: int,
                    margin: int = 0) -> np.ndarray:
        """The defect mask of HR region (top, left, height × width) of ``image``, with
        ``margin`` pixels around it mirrored as :func:`window_around` does (all False
        where the pair has no mask)."""
        mask = self.masks[image] if self.masks else None
        if mask is None:
            return np.zeros((height + 2 * margin, width + 2 * margin), dtype=bool)
        return window_around(mask, top, left, height, width, margin)

    def tiles(self, alpha: int) -> np.ndarray:
        """Non-overlapping ``alpha × alpha`` LR tiles in raster order, as rows
        (image, top, left): ``⌊h/α⌋·⌊w/α⌋`` per image."""
        rows = [(i, ty * alpha, tx * alpha) for i, lr in enumerate(self.lr)
                for ty in range(lr.shape[0] // alpha) for tx in range(lr.shape[1] // alpha)]
        if not rows:
            smallest = min(lr.shape for lr in self.lr)
            raise ConfigError(f"the tile size {alpha} (data.defects.alpha for synthetic "
                              "defects, data.lr_patch for rot16) is larger than every LR "
                              f"image (smallest {smallest[0]}×{smallest[1]})",
                              hint=f"Lower it, e.g. --set data.defects.alpha={min(smallest)}, "
                                   "or use larger images.")
        return np.array(rows, dtype=np.int64)


def _check_masks(masks: Sequence[np.ndarray | None] | None, hrs: list[np.ndarray],
                 names: list[str]) -> list[np.ndarray | None] | None:
    if masks is None:
        return None
    masks = list(masks)
    if len(masks) != len(hrs):
        raise ValueError("masks and pairs differ in length")
    checked: list[np.ndarray | None] = []
    for mask, hr, name in zip(masks, hrs, names, strict=True):
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != hr.shape:
                raise InputError(f"{name}: the defect mask is {mask.shape[0]}×{mask.shape[1]}"
                                 f" but HR is {hr.shape[0]}×{hr.shape[1]}",
                                 hint="A mask marks defects at HR size; give one of the "
                                      "HR image's size, or none.")
            mask = mask != 0
        checked.append(mask)
    return checked if any(m is not None for m in checked) else None


def _check_positive(key: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"augmentation.{key} must be a positive integer, not {value!r}")
    return int(value)


def _lr_maker(degradation: str | LrMaker | None, scale: int,
              params: dict | None) -> LrMaker | None:
    if degradation is None or callable(degradation):
        return degradation
    return LabDegradation(degradation, scale, dict(params or {}))


# ----------------------------------------------------------------- base class


class SeededDataset(Dataset):
    """Base of the lazy datasets: bounds checks, per-(seed, epoch, index) random
    generators, and conversion of :meth:`sample` arrays to tensors."""

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw new random content for epoch ``epoch`` (same epoch → same samples)."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        """The random generator of sample ``index`` in the current epoch."""
        return np.random.default_rng((self.seed, self.epoch, index))

    def _index(self, index: int) -> int:
        n = len(self)
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"sample {index} out of range for {n} samples")
        return index

    def sample(self, index: int) -> dict[str, np.ndarray]:
        """Sample ``index`` as 2-D float32 arrays (the mask as bool)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        arrays = self.sample(self._index(index))
        # np.array copies: a tensor never shares memory with the training images
        return {key: torch.from_numpy(np.array(value, dtype=np.float32)[None])
                for key, value in arrays.items()}


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


# ----------------------------------------------------------------- datasets


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


# ----------------------------------------------------------------- by name


AUGMENTATIONS: dict[str, tuple[type[SeededDataset], dict]] = {
    "defects": (SyntheticDefects, {}),
    "rot16": (RotatedTiles, {}),
    "rot90flip": (PairedPatches, {"geometric": "rot90flip"}),
    "stretch_shear": (PairedPatches, {"geometric": "stretch_shear"}),
    "zssr_paste": (ZssrPasted, {}),
    "none": (PairedPatches, {"geometric": "none"}),
}
"""Augmentation name (recipes, CLI) → dataset class and its fixed options."""


def training_dataset(augmentation: str, pairs: TrainingPairs, *, seed: int = 0,
                     **options) -> SeededDataset:
    """The training dataset for the augmentation called ``augmentation``.

    ``options`` are the dataset's keyword arguments (e.g. ``alpha``, ``beta``,
    ``source``, ``degradation`` for ``defects``); an unknown one is a
    :class:`~semsr_core.errors.ConfigError` naming it.
    """
    if augmentation not in AUGMENTATIONS:
        raise ConfigError(f"unknown augmentation {augmentation!r}",
                          hint=f"Choose one of: {', '.join(AUGMENTATIONS)}.")
    cls, fixed = AUGMENTATIONS[augmentation]
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "pairs", "seed"}
    allowed -= set(fixed)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"augmentation {augmentation!r} has no option {unknown[0]!r}",
                          hint=f"Its options are: {', '.join(sorted(allowed))}.")
    return cls(pairs, seed=seed, **fixed, **options)
