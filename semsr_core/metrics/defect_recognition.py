"""Do defects stay recognisable? The defect classifier's accuracy on SR, bicubic and HR.

On pairs of matching sizes with labelled defect masks (``masks/<stem>.tif`` holding
the labels that ``semsr simulate`` writes), each image (HR, and every method's
enlargement of LR) is cut into the non-overlapping tiles the bundled defect classifier
was trained on (64×64 HR pixels, :mod:`semsr_core.models.classifier`); each tile's true class comes
from the mask (:func:`semsr_core.data.tile_labels.tile_grid`: dominant defect by area,
or "none"). The accuracy of the classifier on HR tiles is the ceiling; a method whose
tiles are classified as often right as HR's keeps defects as recognisable as the scan
does, bicubic's is what a plain enlargement keeps.

Figures (:func:`recognition`): ``recognition_accuracy`` (share of all tiles right; most
tiles hold no defect) and ``recognition_recall`` (share of the tiles holding a defect whose
class is right). Over a dataset they are pooled over the tiles
(:func:`pooled`), not averaged over pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def tiles_of(image: np.ndarray, tile: int) -> np.ndarray:
    """The non-overlapping ``tile``² tiles of ``image``, row by row, as (n, tile, tile)."""
    rows, cols = image.shape[0] // tile, image.shape[1] // tile
    cut = np.asarray(image[: rows * tile, : cols * tile], dtype=np.float32)
    return cut.reshape(rows, tile, cols, tile).transpose(0, 2, 1, 3).reshape(-1, tile, tile)


def classify(network: Any, tiles: np.ndarray, chunk: int = 256) -> np.ndarray:
    """The class of each tile (n, h, w) in [0, 1] by the classifier ``network``."""
    import torch  # semsr_core.metrics stays importable without loading torch

    if len(tiles) == 0:
        return np.zeros(0, dtype=np.int64)
    with torch.no_grad():
        return np.concatenate([
            network(torch.from_numpy(np.ascontiguousarray(tiles[i:i + chunk]))[:, None])
            .argmax(1).numpy() for i in range(0, len(tiles), chunk)])


def recognition(classifier: Any, labels: np.ndarray, images: Mapping[str, np.ndarray]
                ) -> dict[str, dict[str, int]]:
    """Per image name (e.g. ``hr``, ``bicubic``, a model), the tile counts of one pair:
    ``tiles``, ``correct``, ``defect_tiles``, ``defect_correct``.

    ``classifier`` is a :class:`~semsr_core.models.classifier.DefectClassifierModel`;
    ``labels`` the pair's label mask at the images' (HR) size.
    """
    from semsr_core.data.tile_labels import tile_grid

    truth = tile_grid(labels, classifier.tile).ravel()
    defect = truth != 0
    counts = {}
    for name, image in images.items():
        predicted = classify(classifier.network, tiles_of(np.clip(image, 0, 1),
                                                          classifier.tile))
        right = predicted == truth
        counts[name] = {"tiles": int(truth.size), "correct": int(right.sum()),
                        "defect_tiles": int(defect.sum()),
                        "defect_correct": int(right[defect].sum())}
    return counts


def figures(counts: Mapping[str, int]) -> dict[str, float | None]:
    """``recognition_accuracy`` and ``recognition_recall`` from one image's (or pooled) counts;
    ``None`` where there is no tile (no defect tile)."""
    return {"recognition_accuracy": counts["correct"] / counts["tiles"] if counts["tiles"]
            else None,
            "recognition_recall": counts["defect_correct"] / counts["defect_tiles"]
            if counts["defect_tiles"] else None}


def pooled(per_pair: list[Mapping[str, Mapping[str, int]]], name: str
           ) -> dict[str, float | None]:
    """The figures of image ``name`` over all pairs' tiles (pairs without it skipped)."""
    keys = ("tiles", "correct", "defect_tiles", "defect_correct")
    total = {k: sum(p[name][k] for p in per_pair if name in p) for k in keys}
    return figures(total)
