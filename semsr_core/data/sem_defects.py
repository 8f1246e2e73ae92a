"""Defects of simulated SEM scenes: what they are, where they go, and their ground-truth mask.

A defect is a local change of the scene's geometry (SPEC §3.5, [S0] §2.1):

=========  =====  ==============================================================
kind       label  what it looks like
=========  =====  ==============================================================
bridge     1      material connecting two neighbouring features (balls, vias, lines)
break      2      a gap cut through a line
missing    3      a contact (ball or via) that is not there
merged     4      three neighbouring contacts dissolved into one three-lobed blob,
                  the "tripetal" defect of [S0] Fig. 2.2
particle   5      a random blob of material lying on the surface
=========  =====  ==============================================================

The mask of a simulated pair is a uint8 image at HR size holding, for each pixel, the
label of the defect that changed it (0 = unchanged). A pixel is "changed" when the
noise-free rendering with the defect differs from the defect-free rendering by more than
:data:`MASK_TOLERANCE` (in [0, 1] intensity units); every other pixel equals the
defect-free rendering within that tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from semsr_core.errors import ConfigError

#: Defect kind -> label in the mask (0 means "no defect").
DEFECT_LABELS: dict[str, int] = {"bridge": 1, "break": 2, "missing": 3, "merged": 4,
                                 "particle": 5}
DEFECT_KINDS: tuple[str, ...] = tuple(DEFECT_LABELS)

#: Smallest change of the noise-free image (in [0, 1] units) that a mask marks.
MASK_TOLERANCE = 0.01

#: Defects are counted per this many HR pixels: ``defect_rate`` is the mean number of
#: defects in a 256×256 HR field.
DEFECT_RATE_AREA = 256 * 256


@dataclass(frozen=True)
class Defect:
    """One defect in a simulated scene.

    ``bbox`` is ``(y0, x0, y1, x1)`` in HR pixels (end-exclusive, may reach past the
    image edge): the region whose geometry the defect may change. ``params`` holds the
    shape (centres, radii, ...) in HR pixels; ``centre`` is ``(y, x)``.
    """

    kind: str
    centre: tuple[float, float]
    bbox: tuple[int, int, int, int]
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> int:
        return DEFECT_LABELS[self.kind]

    def padded(self, pad: int) -> tuple[int, int, int, int]:
        y0, x0, y1, x1 = self.bbox
        return y0 - pad, x0 - pad, y1 + pad, x1 + pad

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly description (kind, label, centre, bbox)."""
        return {"kind": self.kind, "label": self.label,
                "centre": [round(float(c), 2) for c in self.centre],
                "bbox": [int(v) for v in self.bbox]}


def bbox_around(points: np.ndarray, pad: float) -> tuple[int, int, int, int]:
    """Integer ``(y0, x0, y1, x1)`` box holding ``points`` (N×2, y/x) grown by ``pad``."""
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    y0, x0 = np.floor(pts.min(axis=0) - pad).astype(int)
    y1, x1 = np.ceil(pts.max(axis=0) + pad).astype(int) + 1
    return int(y0), int(x0), int(y1), int(x1)


def window(bbox: tuple[int, int, int, int], shape: tuple[int, int]
           ) -> tuple[slice, slice] | None:
    """The part of ``bbox`` inside an image of ``shape`` as slices (None if outside)."""
    y0, x0, y1, x1 = bbox
    y0, x0 = max(y0, 0), max(x0, 0)
    y1, x1 = min(y1, shape[0]), min(x1, shape[1])
    if y0 >= y1 or x0 >= x1:
        return None
    return slice(y0, y1), slice(x0, x1)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class Layout(Protocol):
    """What placing defects needs of a layout (:class:`semsr_core.data.sem_layouts.Layout`
    has it); a protocol, so that this module does not import the layouts back."""

    name: str
    defect_kinds: tuple[str, ...]

    def propose_defect(self, kind: str, rng: np.random.Generator) -> Defect | None: ...


def check_kinds(kinds, layout: Layout) -> tuple[str, ...]:
    """The requested defect kinds that ``layout`` can show; errors name the bad kind."""
    available = (*layout.defect_kinds, "particle")
    if kinds is None:
        return available
    kinds = tuple(kinds)
    for kind in kinds:
        if kind not in DEFECT_LABELS:
            raise ConfigError(f"unknown defect kind {kind!r}",
                              hint=f"Choose from: {', '.join(DEFECT_KINDS)}.")
    usable = tuple(k for k in kinds if k in available)
    if kinds and not usable:
        raise ConfigError(
            f"layout {layout.name!r} cannot show defects of kind {', '.join(kinds)}",
            hint=f"It can show: {', '.join(available)}.")
    return usable


def place_defects(layout: Layout, shape: tuple[int, int], rng: np.random.Generator, *,
                  rate: float, kinds: tuple[str, ...], pad: int,
                  count: int | None = None) -> list[Defect]:
    """Draw defects for one scene: a Poisson number with mean ``rate`` per 256² pixels.

    Each defect's box grown by ``pad`` (the reach of edge brightening and beam blur)
    overlaps no other's, so every changed pixel belongs to exactly one defect. A defect
    that cannot be placed after a few tries is dropped (crowded small fields).
    ``count`` fixes the number instead of drawing it.
    """
    if count is None:
        count = int(rng.poisson(rate * shape[0] * shape[1] / DEFECT_RATE_AREA))
    if not kinds:
        return []
    placed: list[Defect] = []
    boxes: list[tuple[int, int, int, int]] = []
    # With enough defects every requested kind appears at least once.
    first = [kinds[int(k)] for k in rng.permutation(len(kinds))] if count >= len(kinds) else []
    for i in range(count):
        kind = first[i] if i < len(first) else kinds[int(rng.integers(len(kinds)))]
        for _attempt in range(40):
            defect = layout.propose_defect(kind, rng)
            if defect is None:
                continue
            cy, cx = defect.centre
            if not (pad <= cy < shape[0] - pad and pad <= cx < shape[1] - pad):
                continue
            box = defect.padded(pad)
            if any(_overlaps(box, other) for other in boxes):
                continue
            placed.append(defect)
            boxes.append(box)
            break
    return placed


def defect_mask(with_defects: np.ndarray, without: np.ndarray, defects: list[Defect], *,
                pad: int, tolerance: float = MASK_TOLERANCE) -> np.ndarray:
    """uint8 label mask: each pixel changed by more than ``tolerance`` gets its defect's label.

    Pixels are attributed to the defect whose box grown by ``pad`` holds them (boxes do
    not overlap, see :func:`place_defects`).
    """
    changed = np.abs(with_defects - without) > tolerance
    mask = np.zeros(with_defects.shape, dtype=np.uint8)
    for defect in defects:
        win = window(defect.padded(pad), mask.shape)
        if win is not None:
            mask[win][changed[win]] = defect.label
    return mask
