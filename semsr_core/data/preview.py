"""Previews of augmentations: a few training samples, made by the training code itself.

The training wizard (and ``semsr augment-preview``) shows what an augmentation does to
the user's own data before a long run starts. :func:`preview` builds the same dataset
the training engine would (:func:`~semsr_core.data.datasets.training_dataset`, the
factory the engine's :func:`~semsr_core.data.datasets.recipe_datasets` makes its sets
with) and calls its ``__getitem__`` — the exact path of training — so what is shown is
what is trained on. :func:`preview_grid` lays the samples out as one RGB image: LR (enlarged,
nearest neighbour, so its pixels stay visible), HR, and HR with the outline of the
pasted content in red.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.data.datasets import SeededDataset, TrainingPairs, training_dataset
from semsr_core.errors import OutputError
from semsr_core.io.display import to_uint8_rgb
from semsr_core.io.write import atomic_destination

OUTLINE_RGB = (255, 40, 40)
UNIT = (0.0, 1.0)  # samples are in network units: shown as they are, not stretched


def preview_indices(length: int, n: int, seed: int) -> np.ndarray:
    """Which samples a preview shows: ``min(n, length)`` distinct indices drawn with
    ``seed``, sorted."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(length, size=min(n, length), replace=False))


def preview_samples(dataset: SeededDataset, n: int = 8, seed: int = 0
                    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n`` samples of ``dataset`` at indices drawn with ``seed`` (sorted, distinct when
    the dataset is large enough), as 2-D numpy ``(lr, hr, mask)`` triples."""
    samples = []
    for index in preview_indices(len(dataset), n, seed):
        item = dataset[int(index)]  # the training path: __getitem__ → tensors
        lr = item["lr"][0].numpy()
        hr = item["hr"][0].numpy()
        mask = item["mask"][0].numpy() > 0.5 if "mask" in item else np.zeros(hr.shape, bool)
        samples.append((lr, hr, mask))
    return samples


def preview(augmentation: str, pairs: TrainingPairs, n: int = 8, seed: int = 0, *,
            dataset_options: Mapping[str, Any] | None = None,
            **options) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n`` training samples of ``augmentation`` (a name of
    :data:`~semsr_core.data.datasets.AUGMENTATIONS`, with its ``options``) on ``pairs``,
    as ``(lr, hr, mask)`` numpy triples; ``seed`` picks both the dataset's random draws
    and which samples are shown. ``dataset_options`` holds options whose names clash
    with this function's (``rot16``'s ``n``), e.g. those of
    :func:`~semsr_core.data.datasets.recipe_augmentations`."""
    options = {**dict(dataset_options or {}), **options}
    dataset = training_dataset(augmentation, pairs, seed=seed, **options)
    return preview_samples(dataset, n=n, seed=seed)


def preview_grid(samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                 gap: int = 4) -> np.ndarray:
    """One RGB uint8 image with a row per sample: LR enlarged to HR size (nearest
    neighbour), HR, and HR with the mask outline in red; ``gap`` white pixels between."""
    from skimage.segmentation import find_boundaries

    if not samples:
        raise ValueError("no samples to lay out")
    rows = []
    width = 0
    for lr, hr, mask in samples:
        factor = hr.shape[0] // lr.shape[0]
        lr_up = np.kron(lr, np.ones((factor, factor), dtype=np.float32))
        outlined = to_uint8_rgb(hr, limits=UNIT)
        outlined[find_boundaries(mask, mode="inner")] = OUTLINE_RGB
        cells = [to_uint8_rgb(lr_up, limits=UNIT), to_uint8_rgb(hr, limits=UNIT), outlined]
        spacer = np.full((hr.shape[0], gap, 3), 255, dtype=np.uint8)
        row = np.concatenate([cells[0], spacer, cells[1], spacer, cells[2]], axis=1)
        width = max(width, row.shape[1])
        rows.append(row)
    padded = []
    for row in rows:
        pad = np.full((row.shape[0], width - row.shape[1], 3), 255, dtype=np.uint8)
        padded.append(np.concatenate([row, pad], axis=1))
        padded.append(np.full((gap, width, 3), 255, dtype=np.uint8))
    return np.concatenate(padded[:-1], axis=0)


def write_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an RGB uint8 image as PNG atomically (temporary file, then rename)."""
    from semsr_core.io.picture import png_bytes

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise OutputError("the preview grid is written as PNG", path=path,
                          hint="Give an output name ending in .png.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError("the output folder does not exist", path=folder,
                          hint="Create it or choose another output path.")
    with atomic_destination(path) as tmp:
        tmp.write_bytes(png_bytes(image))
    return path
