"""Tiled inference: cut an image into overlapping tiles, run them in batches, blend them back.

How the blending works (and why the output does not depend on the tile size):
neighbouring tiles share ``overlap`` input pixels. Each shared strip has a *cut line*
in its middle. Around the cut, the two tiles cross-fade with complementary
raised-cosine ramps (``cos²`` and ``1 − cos²``) over ``RAMP_FRACTION`` of the overlap;
the outer part of the strip is discarded (weight 0), so no output pixel is taken from
closer than ``(1 − RAMP_FRACTION) · overlap / 2`` input pixels to a tile edge that lies
inside the image — a network whose receptive-field radius is smaller than that margin
gives the same result tiled as whole. The weights of all tiles sum to exactly one at
every output pixel (a partition of unity), so no weight canvas is needed: the output
is a plain weighted sum, accumulated on the host in float32.

Out of device memory: a failing batch is not lost work — tiles already blended stay,
the tile size is halved, and each tile of the failed batch is itself tiled with the
smaller size (its own edges treated like image edges, so the result is unchanged).
All later tiles use the smaller size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from semsr_core.errors import ConfigError, ModelError
from semsr_core.events import CancelToken, check_cancel

RAMP_FRACTION = 0.25
"""Part of the overlap over which two tiles cross-fade; the rest is context margin."""

MIN_TILE = 8
"""Smallest tile side (input pixels) that out-of-memory halving goes down to."""

Forward = Callable[[np.ndarray], np.ndarray]
"""Runs the network on a float32 batch (B, C, h, w); returns float32 (B, C_out, h·s, w·s)."""

OutOfMemoryCheck = Callable[[BaseException], bool]


@dataclass(frozen=True)
class Tile:
    """One tile in input pixels: top-left corner ``(y, x)`` and size ``(height, width)``,
    with its row and column index in the grid."""

    y: int
    x: int
    height: int
    width: int
    row: int
    col: int


@dataclass(frozen=True)
class TilePlan:
    """Tiles covering an image, and the cut lines between neighbours (input pixels)."""

    height: int
    width: int
    tile_height: int
    tile_width: int
    overlap: int
    ys: tuple[int, ...]
    xs: tuple[int, ...]

    @property
    def tiles(self) -> list[Tile]:
        return [Tile(y, x, self.tile_height, self.tile_width, r, c)
                for r, y in enumerate(self.ys) for c, x in enumerate(self.xs)]

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)


def tile_starts(length: int, tile: int, overlap: int) -> tuple[int, ...]:
    """Start positions of tiles of size ``min(tile, length)`` covering ``length`` pixels.

    Neighbours share at least ``overlap`` pixels; the spare overlap when ``tile`` does
    not divide the length is spread evenly, and the last tile ends at the image edge.
    """
    if length <= tile:
        return (0,)
    count = math.ceil((length - overlap) / (tile - overlap))
    return tuple(round(i * (length - tile) / (count - 1)) for i in range(count))


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> TilePlan:
    """The tile grid for an image of ``height`` × ``width`` input pixels."""
    if tile < 1:
        raise ConfigError(f"tile size {tile} is not positive", hint="Use --tile 64 or more.")
    if overlap < 0:
        raise ConfigError(f"overlap {overlap} is negative", hint="Use --overlap 0 or more.")
    if (height > tile or width > tile) and 2 * overlap >= tile:
        raise ConfigError(f"overlap {overlap} must be less than half the tile size {tile}",
                          hint="Use a larger --tile or a smaller --overlap.")
    return TilePlan(height, width, min(tile, height), min(tile, width), overlap,
                    tile_starts(height, tile, overlap), tile_starts(width, tile, overlap))


def _fade_out(centres: np.ndarray, cut: float, half_width: float) -> np.ndarray:
    """1 before ``cut − half_width``, 0 after ``cut + half_width``, cos² in between."""
    if half_width <= 0:
        return (centres < cut).astype(np.float64)
    t = np.clip((centres - (cut - half_width)) / (2 * half_width), 0.0, 1.0)
    return np.cos(0.5 * np.pi * t) ** 2


def axis_windows(starts: Sequence[int], size: int, overlap: int, scale: int) -> list[np.ndarray]:
    """Blending weights along one axis for each tile, in output pixels (length ``size·scale``).

    The windows of all tiles add up to exactly one at every output position.
    """
    half_width = RAMP_FRACTION * overlap / 2 * scale
    cuts = [(starts[i + 1] + starts[i] + size) / 2 * scale for i in range(len(starts) - 1)]
    windows = []
    for i, start in enumerate(starts):
        centres = start * scale + np.arange(size * scale) + 0.5
        weight = np.ones(size * scale)
        if i > 0:
            weight *= 1.0 - _fade_out(centres, cuts[i - 1], half_width)
        if i < len(starts) - 1:
            weight *= _fade_out(centres, cuts[i], half_width)
        windows.append(weight.astype(np.float32))
    return windows


@dataclass
class TileProgress:
    """Tiles planned and done in one inference call; ``report`` is called once with
    ``done`` 0 before the first tile (so a progress bar starts with the work, not after
    its first tile) and after each tile."""

    planned: int = 0
    done: int = 0
    report: Callable[[int, int], None] | None = None
    started: bool = False

    def start(self) -> None:
        """Report ``done`` 0 of ``planned``, once, before any tile is done."""
        if not self.started and self.done == 0 and self.report is not None:
            self.report(0, self.planned)
        self.started = True

    def add_done(self, count: int) -> None:
        for _ in range(count):
            self.done += 1
            if self.report is not None:
                self.report(self.done, self.planned)


@dataclass
class _Budget:
    """The largest tile side that fits on the device; shrinks after out-of-memory errors."""

    tile: int


def _pad_to_multiple(batch: np.ndarray, multiple: int) -> np.ndarray:
    """Reflect-pad a (B, C, h, w) batch at the bottom/right so h and w are multiples."""
    h, w = batch.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return batch
    mode = "reflect" if min(h, w) > 1 else "edge"
    return np.pad(batch, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)


def run_tiled(image: np.ndarray, forward: Forward, *, scale: int, out_channels: int,
              tile: int, overlap: int, batch: int = 1, size_multiple: int = 1,
              progress: TileProgress | None = None, cancel: CancelToken | None = None,
              is_out_of_memory: OutOfMemoryCheck | None = None,
              release_memory: Callable[[], None] | None = None,
              on_tile_shrink: Callable[[int], None] | None = None) -> np.ndarray:
    """Super-resolve a (C, H, W) float32 image tile by tile; returns (C_out, H·s, W·s) float32.

    ``forward`` runs the network on a batch of equally sized tiles. ``tile`` and
    ``overlap`` are in input pixels; ``tile`` is rounded down to ``size_multiple`` and
    tiles smaller than that (images smaller than a tile) are reflect-padded for the
    network and cropped back. ``progress`` counts tiles; ``cancel`` is checked before
    every batch. When ``is_out_of_memory(error)`` says a batch failed for lack of
    memory, ``release_memory()`` is called, the tile is halved (``on_tile_shrink(new)``
    is told) and the batch is redone in smaller tiles; any other error propagates.
    """
    if image.ndim != 3:
        raise ValueError(f"run_tiled expects (C, H, W), got shape {image.shape}")
    if batch < 1:
        raise ConfigError(f"batch size {batch} is not positive", hint="Use --batch 1 or more.")
    multiple = max(1, int(size_multiple))
    tile = max(multiple, tile // multiple * multiple)
    progress = progress if progress is not None else TileProgress()
    if progress.planned == 0:
        progress.planned = len(plan_tiles(image.shape[1], image.shape[2], tile, overlap))
    progress.start()
    context = _TilingContext(forward, scale, out_channels, overlap, batch, multiple, progress,
                             cancel, is_out_of_memory or (lambda _e: False),
                             release_memory or (lambda: None), on_tile_shrink, _Budget(tile))
    return context.resolve(np.ascontiguousarray(image, dtype=np.float32))


@dataclass
class _TilingContext:
    """Settings shared by the recursive steps of one :func:`run_tiled` call."""

    forward: Forward
    scale: int
    out_channels: int
    overlap: int
    batch: int
    multiple: int
    progress: TileProgress
    cancel: CancelToken | None
    is_oom: OutOfMemoryCheck
    release: Callable[[], None]
    on_shrink: Callable[[int], None] | None
    budget: _Budget

    def resolve(self, region: np.ndarray) -> np.ndarray:
        """Output of ``region`` (C, h, w), tiled with the current tile budget."""
        _channels, height, width = region.shape
        s = self.scale
        plan = plan_tiles(height, width, self.budget.tile, self.overlap)
        wys = axis_windows(plan.ys, plan.tile_height, self.overlap, s)
        wxs = axis_windows(plan.xs, plan.tile_width, self.overlap, s)
        out = np.zeros((self.out_channels, height * s, width * s), dtype=np.float32)
        tiles = plan.tiles
        for first in range(0, len(tiles), self.batch):
            group = tiles[first:first + self.batch]
            check_cancel(self.cancel)
            crops = [region[:, t.y:t.y + t.height, t.x:t.x + t.width] for t in group]
            results = self._run_group(crops, plan)
            for t, result in zip(group, results, strict=True):
                weight = wys[t.row][:, None] * wxs[t.col][None, :]
                y0, x0 = t.y * s, t.x * s
                out[:, y0:y0 + t.height * s, x0:x0 + t.width * s] += result * weight
        return out

    def _run_group(self, crops: list[np.ndarray], plan: TilePlan) -> list[np.ndarray]:
        side = max(plan.tile_height, plan.tile_width)
        if side <= self.budget.tile:
            out_of_memory = False
            try:
                results = self._forward(np.stack(crops))
            except Exception as error:
                if not self.is_oom(error):
                    raise
                out_of_memory = True  # handled below, once the traceback has let go of tensors
            if not out_of_memory:
                self.progress.add_done(len(crops))
                return list(results)
            self.release()
            self._shrink(side)
        # redo each tile of the group with the smaller tile size
        outputs = []
        for crop in crops:
            sub = plan_tiles(crop.shape[1], crop.shape[2], self.budget.tile, self.overlap)
            self.progress.planned += len(sub) - 1
            outputs.append(self.resolve(crop))
        return outputs

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        height, width = batch.shape[-2:]
        result = self.forward(_pad_to_multiple(batch, self.multiple))
        expected = (batch.shape[0], self.out_channels)
        if result.shape[:2] != expected or result.shape[-2] < height * self.scale \
                or result.shape[-1] < width * self.scale:
            raise ModelError(f"the network returned shape {tuple(result.shape)} for input "
                             f"{tuple(batch.shape)}; expected {self.out_channels} channel(s) "
                             f"at ×{self.scale}",
                             hint="The model card's scale or channels do not match its network.")
        return result[..., :height * self.scale, :width * self.scale]

    def _shrink(self, failed_side: int) -> None:
        new = min(self.budget.tile, failed_side) // 2 // self.multiple * self.multiple
        if new < max(MIN_TILE, self.multiple) or new <= 2 * self.overlap:
            raise ModelError(f"out of device memory even with {failed_side}-pixel tiles "
                             f"(overlap {self.overlap})",
                             hint="Use a smaller --batch or --overlap, a lower --precision, "
                                  "or --device cpu.")
        self.budget.tile = new
        if self.on_shrink is not None:
            self.on_shrink(new)
