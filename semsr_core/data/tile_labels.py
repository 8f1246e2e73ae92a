"""A tile's defect class, from the labelled defect masks the simulator writes.

``semsr simulate`` writes ``masks/<stem>.tif`` with each pixel's defect label
(:data:`~semsr_core.data.sem_defects.DEFECT_LABELS`, 0 = none). A tile's class is its
dominant defect label by area, or "none" (class 0) when fewer than
:data:`MIN_DEFECT_PIXELS` of its pixels belong to a defect; the class numbers are the
mask labels, named by :data:`DEFECT_CLASSES`.

This module is the one owner of that rule: the defect classifier's training script, the
``defect_class`` loss (through :class:`TileLabelled`, which adds each training sample's
class as ``"label"``) and ``semsr evaluate``'s recognisability figures all use it.
:func:`semsr_core.data.masks.read_mask` gives boolean masks (defect or not); the labels
are read here with :func:`read_labels`.
"""

from __future__ import annotations

import bisect
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from semsr_core.data.sem_defects import DEFECT_LABELS
from semsr_core.errors import ConfigError, InputError

#: Class names by class number (= mask label): "none", then the defect kinds.
DEFECT_CLASSES: tuple[str, ...] = ("none", *sorted(DEFECT_LABELS, key=DEFECT_LABELS.get))

#: A tile with fewer defect pixels than this is of class "none".
MIN_DEFECT_PIXELS = 24

#: The label of a tile whose pair has no mask: left out of the loss (cross-entropy's
#: ``ignore_index``).
UNLABELLED = -1


def tile_class(labels: np.ndarray, min_pixels: int = MIN_DEFECT_PIXELS) -> int:
    """The class of one tile of a label mask: its most frequent nonzero label, or 0 when
    fewer than ``min_pixels`` pixels are nonzero (ties go to the lower label)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64).ravel(),
                         minlength=len(DEFECT_CLASSES))
    if counts[1:].sum() < min_pixels:
        return 0
    return int(np.argmax(counts[1:]) + 1)


def tile_grid(labels: np.ndarray, tile: int) -> np.ndarray:
    """The classes of the non-overlapping ``tile``×``tile`` tiles of a label mask, row by
    row (rows, cols); the strip past the last whole tile is left out."""
    rows, cols = labels.shape[0] // tile, labels.shape[1] // tile
    return np.array([[tile_class(labels[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile])
                      for c in range(cols)] for r in range(rows)], dtype=np.int64)


def read_labels(path: str | os.PathLike, hr_shape: tuple[int, int], *, slack: int = 0
                ) -> np.ndarray:
    """The label mask in ``path`` (first slice) as uint8 of ``hr_shape``; a mask up to
    ``slack`` pixels larger is cropped (HR cut to a multiple of the scale).

    Raises:
        InputError: naming ``path``, when the size differs or a value is no defect label.
    """
    from semsr_core.io import read_stack

    with read_stack(path) as stack:
        mask = np.asarray(stack[0])
    extra = np.subtract(mask.shape, hr_shape)
    if extra.min() < 0 or extra.max() > slack:
        raise InputError(f"the defect mask is {mask.shape[0]}×{mask.shape[1]} but its HR "
                         f"image is {hr_shape[0]}×{hr_shape[1]}", path=path,
                         hint="A mask holds the defect labels of the HR image at its size.")
    mask = mask[: hr_shape[0], : hr_shape[1]]
    if mask.size and (mask.min() < 0 or mask.max() >= len(DEFECT_CLASSES)):
        raise InputError(f"the defect mask holds the value {int(mask.max())}, which is no "
                         "defect label", path=path,
                         hint="Labels are " + ", ".join(f"{i} = {n}" for i, n in
                                                        enumerate(DEFECT_CLASSES))
                         + " (as semsr simulate writes them).")
    return mask.astype(np.uint8)


class TileLabelled(Dataset):
    """A training set whose samples also carry their tile's class, ``"label"`` (int64).

    Works with the crop datasets that say where a sample comes from (``locate(index)``
    → image, top, left in LR pixels; :class:`~semsr_core.data.datasets.PairedPatches`,
    :class:`~semsr_core.data.datasets.RotatedTiles`,
    :class:`~semsr_core.data.datasets.SyntheticDefects`) and with a concatenation of
    them. The class is that of the sample's HR region before its augmentation (a turn
    or flip keeps a tile's dominant defect; pasted synthetic content is not a labelled
    defect). Pairs without a mask give :data:`UNLABELLED`.
    """

    def __init__(self, dataset: Any, labels: list[np.ndarray | None]):
        self.dataset = dataset
        self.labels = labels
        self._parts = list(getattr(dataset, "datasets", [dataset]))
        for part in self._parts:
            if not hasattr(part, "locate") or not hasattr(part, "pairs"):
                raise ConfigError(
                    f"the defect_class loss cannot find the tiles of {type(part).__name__} "
                    "samples", hint="Use data.augment = [\"rot90flip\"], [\"none\"], "
                    "[\"stretch_shear\"] or [\"rot16\"] (no patch pasting) with it.")
        self._ends = list(np.cumsum([len(p) for p in self._parts]))

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def label(self, index: int) -> int:
        """The class of sample ``index`` (:data:`UNLABELLED` where its pair has no mask)."""
        k = bisect.bisect_right(self._ends, index)
        part = self._parts[k]
        image, top, left = part.locate(index - (self._ends[k - 1] if k else 0))[:3]
        labels = self.labels[image]
        if labels is None:
            return UNLABELLED
        side = getattr(part, "patch", None) or part.alpha
        s = part.scale
        return tile_class(labels[s * top:s * (top + side), s * left:s * (left + side)])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = dict(self.dataset[index])
        item["label"] = torch.tensor(self.label(index), dtype=torch.int64)
        return item


def with_tile_labels(dataset: Any, data: str | os.PathLike | None) -> Any:
    """``dataset`` with each sample's class, the labels read from the data folder's
    ``masks/<stem>.*`` for the training pairs' stems. Without a data folder (a trainer
    made without ``prepare_data``'s summary, e.g. to estimate a run's cost) every sample
    is :data:`UNLABELLED`.

    Raises:
        ConfigError: the data folder holds no mask of any training pair.
    """
    from semsr_core.data.masks import MASKS_FOLDER, find_mask

    folder = None if data is None else Path(data) / MASKS_FOLDER

    parts = list(getattr(dataset, "datasets", [dataset]))
    pairs = getattr(parts[0], "pairs", None)
    if pairs is None:
        return TileLabelled(dataset, [])  # refuses the dataset, naming it
    labels: list[np.ndarray | None] = []
    for stem, hr in zip(pairs.names, pairs.hr, strict=True):
        path = find_mask(folder, stem) if folder is not None else None
        labels.append(None if path is None else
                      read_labels(path, hr.shape, slack=max(pairs.scale - 1, 0)))
    if folder is not None and all(label is None for label in labels):
        raise ConfigError(f"the defect_class loss needs the training pairs' defect masks, "
                          f"but {folder} holds none",
                          hint="Train on data with masks/<stem>.tif holding defect labels "
                               "(semsr simulate writes them).")
    return TileLabelled(dataset, labels)
