"""The aligned LR/HR images a training dataset draws its samples from
(:class:`TrainingPairs`): checked sizes, network units, optional defect masks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semsr_core.data.augment import window_around
from semsr_core.errors import ConfigError, InputError
from semsr_core.events import EventCallback, Message, emit
from semsr_core.io.intensity import check_pixels, to_unit_range


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
            emit(on_event, Message(f"{item.path}: left out, {item.reason}", level="warning"))
        arrays, names = [], []
        for pair in pairing:
            lr, hr = load_pair(pair)
            s = scale or infer_scale(lr.shape, hr.shape, lr_path=pair.lr_path,
                                     hr_path=pair.hr_path)
            if hr.shape != (lr.shape[0] * s, lr.shape[1] * s):
                result = align_pair(lr, hr, s)
                if result.verdict == "failed":
                    emit(on_event, Message(f"{pair.lr_path}: left out, alignment failed "
                                           f"({result.reason})", level="warning"))
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
