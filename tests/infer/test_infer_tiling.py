"""Tiled inference: tile size, overlap and batch do not change the output; no seams;
out-of-memory halves the tile without losing work; progress and cancellation per tile."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_nets import TinySR
from torch import nn

from semsr_core.errors import Cancelled, ConfigError, ModelError
from semsr_core.events import CancelToken
from semsr_core.infer.tiling import (
    TileProgress,
    axis_windows,
    plan_tiles,
    run_tiled,
    tile_starts,
)


def forward_of(net: nn.Module):
    """The numpy forward that run_tiled calls, for a CPU network."""
    net.eval()

    def forward(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net(torch.from_numpy(batch)).numpy()

    return forward


@pytest.fixture
def image(rng) -> np.ndarray:
    from skimage import data

    return (data.camera()[100:197, 60:181] / 255.0).astype(np.float32)[None]  # 97 × 121


@pytest.mark.parametrize(("tile", "overlap", "batch"), [
    (64, 16, 1),     # tiles that do not divide the image
    (40, 16, 4),     # many tiles, batched, last batch partial
    (33, 12, 3),     # odd sizes
    (200, 16, 2),    # image smaller than one tile
    (97, 16, 1),     # tile equal to one side, smaller than the other
])
def test_tiled_output_equals_whole_image_output(image, tile, overlap, batch):
    forward = forward_of(TinySR(scale=2))
    whole = forward(image[None])[0]
    tiled = run_tiled(image, forward, scale=2, out_channels=1, tile=tile, overlap=overlap,
                      batch=batch)
    assert tiled.shape == (1, 194, 242)
    np.testing.assert_allclose(tiled, whole, atol=1e-4, rtol=0)


@pytest.mark.parametrize("length", [1, 7, 64, 65, 100, 257, 1000])
@pytest.mark.parametrize(("tile", "overlap"), [(64, 16), (48, 0), (33, 12)])
def test_blending_weights_cover_every_pixel_exactly_once(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    for scale in (1, 4):
        total = np.zeros(length * scale)
        for start, window in zip(starts, axis_windows(starts, size, overlap, scale),
                                 strict=True):
            total[start * scale:(start + size) * scale] += window
        np.testing.assert_allclose(total, 1.0, atol=1e-6)


class SmoothUpsampler(nn.Module):
    """Bilinear ×2 then a 7×7 mean filter with zero padding: smooth, but it darkens every
    edge it sees, so a tile edge inside the image shows as a seam unless blended away."""

    def __init__(self):
        super().__init__()
        self.blur = nn.Conv2d(1, 1, 7, padding=3, bias=False)
        with torch.no_grad():
            self.blur.weight.fill_(1 / 49)

    def forward(self, x):
        return self.blur(nn.functional.interpolate(x, scale_factor=2, mode="bilinear"))


def _step_at_borders_and_elsewhere(out: np.ndarray, plan) -> tuple[float, float]:
    """Largest left-right step between neighbouring output columns near tile borders,
    and away from them (image edges excluded)."""
    steps = np.abs(np.diff(out[0, 8:-8], axis=1)).max(axis=0)
    near = np.zeros(steps.size, bool)
    size = plan.tile_width
    borders = {2 * x for x in plan.xs[1:]} | {2 * (x + size) for x in plan.xs[:-1]}
    for b in borders:
        near[max(0, b - 8):b + 8] = True
    inner = np.zeros(steps.size, bool)
    inner[10:-10] = True
    return float(steps[near].max()), float(steps[~near & inner].max())


def test_no_seams_on_a_smooth_image():
    yy, xx = np.mgrid[0:40, 0:120] / 40.0
    image = (0.5 + 0.4 * np.sin(yy) * np.cos(xx * 0.7)).astype(np.float32)[None]
    forward = forward_of(SmoothUpsampler())
    for overlap in (8, 16):
        out = run_tiled(image, forward, scale=2, out_channels=1, tile=40, overlap=overlap)
        at_borders, elsewhere = _step_at_borders_and_elsewhere(out, plan_tiles(40, 120, 40,
                                                                                overlap))
        assert at_borders <= 1.05 * elsewhere
    # the same measure sees the seams of tiles cut without overlap
    hard = run_tiled(image, forward, scale=2, out_channels=1, tile=40, overlap=0)
    at_borders, elsewhere = _step_at_borders_and_elsewhere(hard, plan_tiles(40, 120, 40, 0))
    assert at_borders > 5 * elsewhere


class RunsOutOfMemory(nn.Module):
    """Wraps a network; raises the CUDA out-of-memory error for inputs over ``limit`` pixels
    a side — what a GPU does — and records the tile sizes it was given."""

    def __init__(self, net: nn.Module, limit: int, error: type[Exception] = torch.OutOfMemoryError):
        super().__init__()
        self.net, self.limit, self.error = net, limit, error
        self.sides: list[int] = []

    def forward(self, x):
        side = max(x.shape[-2:])
        self.sides.append(side)
        if side > self.limit:
            if self.error is RuntimeError:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            raise self.error("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.net(x)


def _is_oom(error: BaseException) -> bool:
    from semsr_core.infer.device import is_out_of_memory

    return is_out_of_memory(error)


@pytest.mark.parametrize("error", [torch.OutOfMemoryError, RuntimeError])
def test_out_of_memory_halves_the_tile_and_gives_the_same_result(image, error):
    tiny = TinySR(scale=2)
    whole = forward_of(tiny)(image[None])[0]
    failing = RunsOutOfMemory(tiny, limit=40, error=error)
    released, shrunk = [], []
    progress = TileProgress()
    out = run_tiled(image, forward_of(failing), scale=2, out_channels=1, tile=128,
                    overlap=8, batch=2, progress=progress, is_out_of_memory=_is_oom,
                    release_memory=lambda: released.append(True),
                    on_tile_shrink=shrunk.append)
    np.testing.assert_allclose(out, whole, atol=1e-4, rtol=0)
    assert failing.sides[0] == 121  # the first try: one tile as large as the image
    assert shrunk == [60, 30]  # halved until it fits (121 → 60 → 30)
    assert len(released) == 2
    assert max(failing.sides[-1:]) <= 40
    assert progress.done == progress.planned  # the bar ends full after the re-plan


def test_out_of_memory_keeps_tiles_already_done(image):
    """Tiles blended before the error are not computed again."""
    tiny = TinySR(scale=2)
    whole = forward_of(tiny)(image[None])[0]

    class FailsOnce(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0
            self.pixels = 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 3:  # the third batch of 48-pixel tiles fails
                raise torch.OutOfMemoryError("CUDA out of memory")
            self.pixels += x.shape[0] * x.shape[-1] * x.shape[-2]
            return tiny(x)

    net = FailsOnce()
    out = run_tiled(image, forward_of(net), scale=2, out_channels=1, tile=48, overlap=8,
                    batch=1, is_out_of_memory=_is_oom)
    np.testing.assert_allclose(out, whole, atol=1e-4, rtol=0)
    plan = plan_tiles(97, 121, 48, 8)
    # the 2 tiles done before the failure are kept; every later tile is done in 24-pixel
    # sub-tiles (the smaller size sticks), and nothing is computed twice
    sub = plan_tiles(48, 48, 24, 8)
    assert net.pixels == 2 * 48 * 48 + (len(plan) - 2) * len(sub) * 24 * 24


def test_other_errors_are_not_swallowed(image):
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("a real bug")

    with pytest.raises(ValueError, match="a real bug"):
        run_tiled(image, forward_of(Broken()), scale=2, out_channels=1, tile=64, overlap=8,
                  is_out_of_memory=_is_oom)


def test_out_of_memory_at_the_smallest_tile_is_reported(image):
    failing = RunsOutOfMemory(TinySR(scale=2), limit=4)
    with pytest.raises(ModelError, match="out of device memory"):
        run_tiled(image, forward_of(failing), scale=2, out_channels=1, tile=64, overlap=8,
                  is_out_of_memory=_is_oom)


def test_progress_counts_every_tile(image):
    events = []
    progress = TileProgress(report=lambda done, planned: events.append((done, planned)))
    run_tiled(image, forward_of(TinySR(scale=2)), scale=2, out_channels=1, tile=40,
              overlap=8, batch=3, progress=progress)
    count = len(plan_tiles(97, 121, 40, 8))
    assert count == 12  # 3 rows × 4 columns
    assert events == [(i, count) for i in range(0, count + 1)]  # 0 before the first tile


def test_cancel_stops_within_one_batch(image):
    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = TinySR(scale=2)
            self.tiles = 0

        def forward(self, x):
            self.tiles += x.shape[0]
            return self.net(x)

    net = Counting()
    cancel = CancelToken()
    seen = {}

    def report(done, planned):
        if done == 5:
            cancel.cancel()
            seen["tiles_at_cancel"] = net.tiles

    batch = 2
    with pytest.raises(Cancelled):
        run_tiled(image, forward_of(net), scale=2, out_channels=1, tile=40, overlap=8,
                  batch=batch, progress=TileProgress(report=report), cancel=cancel)
    assert net.tiles - seen["tiles_at_cancel"] <= batch
    assert net.tiles < 12


def test_overlap_of_half_a_tile_is_refused():
    with pytest.raises(ConfigError, match="less than half the tile"):
        plan_tiles(100, 100, 32, 16)


def test_images_smaller_than_the_size_multiple_are_padded_and_cropped():
    """A network that needs sides divisible by 8 still gets a 13×21 image right."""

    class NeedsMultipleOf8(nn.Module):
        def forward(self, x):
            if x.shape[-1] % 8 or x.shape[-2] % 8:
                raise RuntimeError(f"size {tuple(x.shape)} is not a multiple of 8")
            return nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    image = np.arange(13 * 21, dtype=np.float32).reshape(1, 13, 21)
    out = run_tiled(image, forward_of(NeedsMultipleOf8()), scale=2, out_channels=1,
                    tile=64, overlap=8, size_multiple=8)
    np.testing.assert_array_equal(out[0], np.kron(image[0], np.ones((2, 2))))
