"""A generator made ready for inference on one device, and how big its tiles may be.

:func:`prepare_network` copies the model's generator to the device in evaluation mode
and channels-last layout (oneDNN on the CPU and tensor cores on CUDA are fastest with
it), and records what the model card and the architecture say about feeding it.
:func:`run_network` is the ``forward`` that :func:`semsr_core.infer.tiling.run_tiled`
calls: a float32 numpy batch in, float32 numpy out, under ``torch.inference_mode`` and,
off float32, ``torch.autocast``. Grayscale images meet RGB community models by
replicating the channel; their colour output is averaged back to one channel.

A precision semsr chose itself (``auto``: bf16 on CPUs with AMX/AVX-512-BF16 and on
most GPUs) is checked on the first tile: :func:`check_precision` runs a centre crop of
it in float32 and in the chosen precision and keeps the choice only when the two agree
to ``CHECK_MIN_PSNR_DB``; otherwise the run continues in float32. Networks whose
activations overflow bf16's 8-bit mantissa budget (deep nets without normalisation,
large residual sums) are caught here instead of giving a quietly worse image.

On the CPU an RRDBNet also gets the fused forward of :mod:`semsr_core.infer.fastpath`
(the same weights and function, fewer memory passes), compared with the plain module
on a small input before it is used; a failure or a disagreement keeps the plain module.
``SEMSR_CPU_FAST_PATH=0`` in the environment turns it off (benchmarks compare both).
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from semsr_core.errors import ConfigError

CPU_MAX_AUTO_TILE = 512
"""Largest automatic tile on the CPU (bigger tiles are not faster there)."""

GPU_MAX_AUTO_TILE = 1024
"""Largest automatic tile on a GPU."""

MAX_AUTO_BATCH = 16

CHECK_SIDE = 32
"""Side (input pixels) of the first tile's centre crop that the precision check runs
(at ×4, 16 384 output pixels: enough for the PSNR; its float32 pass costs 1/64 of a
512-pixel tile's)."""

CHECK_MIN_PSNR_DB = 45.0
"""Least PSNR (over the model's value range) between a lower precision's output and
float32's for the lower precision to be kept (bf16 typically gives 50–60 dB on SR nets)."""

FAST_PATH_SIDE = 24
"""Side (input pixels) of the input on which a fast forward is compared with the plain
module before it is used."""

FAST_PATH_TOLERANCE = 1e-3
"""Largest difference (relative to the plain output's largest magnitude, at least 1)
allowed between the fast forward and the plain module in float32."""


@dataclass(frozen=True)
class ArchFacts:
    """What feeding a network needs beyond its card (from :func:`semsr_core.archs.spec`)."""

    input_at_output_size: bool = False
    size_multiple: int = 1
    min_size: int = 1


def arch_facts(arch: str) -> ArchFacts:
    """The registered facts of ``arch``; defaults for a network built outside the registry."""
    from semsr_core import archs

    try:
        arch_spec = archs.spec(arch)
    except ConfigError:
        return ArchFacts()
    return ArchFacts(bool(arch_spec.input_at_output_size), max(1, int(arch_spec.size_multiple)),
                     max(1, int(arch_spec.min_size)))


@dataclass(frozen=True)
class PrecisionCheck:
    """The first-tile comparison of a lower precision with float32."""

    tried: str
    psnr_db: float
    threshold_db: float
    crop: tuple[int, int]
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        psnr = self.psnr_db if math.isfinite(self.psnr_db) else (
            "identical" if self.psnr_db > 0 else "not finite")
        return {"tried": self.tried, "against": "fp32",
                "psnr_db": round(psnr, 2) if isinstance(psnr, float) else psnr,
                "threshold_db": self.threshold_db,
                "crop": f"{self.crop[0]}×{self.crop[1]} input pixels of the first tile",
                "kept": self.passed}


@dataclass
class PreparedNetwork:
    """A generator on its device, with how to feed it.

    ``scale`` is the factor between the network's input and output (1 for networks
    that take the image already upscaled to the output size). ``dtype`` is the compute
    precision; with ``check_first_tile`` the first :func:`run_network` call checks it
    against float32 (:func:`check_precision`) and may lower it to float32, recording
    the comparison in ``check``. ``value_range`` is the range of the network's output
    values (the PSNR's peak).
    """

    module: nn.Module
    device: torch.device
    dtype: torch.dtype
    scale: int
    in_channels: int
    out_channels: int
    size_multiple: int
    value_range: tuple[float, float] = (0.0, 1.0)
    check_first_tile: bool = False
    check: PrecisionCheck | None = None
    fast: nn.Module | None = None
    """The fused forward run instead of ``module`` (:mod:`semsr_core.infer.fastpath`), if any."""

    def precision_settings(self) -> dict[str, Any]:
        """``precision`` (what runs now) and, once made, ``precision_check``, for provenance."""
        from semsr_core.infer.device import precision_name

        data: dict[str, Any] = {"precision": precision_name(self.dtype)}
        if self.check is not None:
            data["precision_check"] = self.check.as_dict()
        elif self.check_first_tile and self.dtype != torch.float32:
            data["precision_check"] = "on the first tile"
        return data


def prepare_network(module: nn.Module, *, device: torch.device, dtype: torch.dtype,
                    scale: int, in_channels: int, out_channels: int,
                    size_multiple: int = 1, check_first_tile: bool = False,
                    value_range: tuple[float, float] = (0.0, 1.0)) -> PreparedNetwork:
    """A private copy of ``module`` on ``device`` in evaluation mode and channels-last layout.

    The caller's module is left as it was (device, mode and weights). ``check_first_tile``
    (for a precision semsr chose, not one the user named) checks a ``dtype`` other than
    float32 against float32 on the first tile.
    """
    private = copy.deepcopy(module).to(device)
    private.eval()
    private.requires_grad_(False)
    private = private.to(memory_format=torch.channels_last)
    low, high = (float(v) for v in value_range)
    net = PreparedNetwork(private, device, dtype, scale, in_channels, out_channels,
                          size_multiple, (low, high),
                          bool(check_first_tile) and dtype != torch.float32)
    if device.type == "cpu" and os.environ.get("SEMSR_CPU_FAST_PATH", "1") != "0":
        net.fast = verified_fast_module(net)
    return net


def verified_fast_module(net: PreparedNetwork) -> nn.Module | None:
    """The fused forward of ``net.module`` where there is one and it agrees with the
    module in float32 on a small random input (``FAST_PATH_TOLERANCE``); else ``None``."""
    from semsr_core.infer.fastpath import fast_module

    try:
        fast = fast_module(net.module)
        if fast is None:
            return None
        m = max(1, net.size_multiple)
        side = max(FAST_PATH_SIDE // m * m, m)
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(1, net.in_channels, side, side, generator=generator)
        x = x.contiguous(memory_format=torch.channels_last).to(net.device)
        with torch.inference_mode():
            plain = net.module(x).float()
            fused = fast(x).float()
    except Exception:  # a torch without these oneDNN ops, or an unexpected module
        return None
    if plain.shape != fused.shape or not torch.isfinite(fused).all():
        return None
    limit = FAST_PATH_TOLERANCE * max(1.0, float(plain.abs().max()))
    return fast if float((plain - fused).abs().max()) <= limit else None


def _autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def run_network(net: PreparedNetwork, batch: np.ndarray) -> np.ndarray:
    """Run ``net`` on a float32 (B, 1, h, w) batch; returns float32 (B, 1, h·s, w·s).

    The first call of a network prepared with ``check_first_tile`` checks its precision
    on this batch first (:func:`check_precision`)."""
    if net.check_first_tile and net.check is None:
        check_precision(net, batch)
    return _forward(net, batch, net.dtype)


def psnr_db(output: np.ndarray, reference: np.ndarray, peak: float = 1.0) -> float:
    """PSNR of ``output`` against ``reference`` in dB for values spanning ``peak``
    (``inf`` when identical, ``nan`` when either holds a non-finite value)."""
    a = np.asarray(output, np.float64)
    b = np.asarray(reference, np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def check_precision(net: PreparedNetwork, batch: np.ndarray, *, side: int = CHECK_SIDE,
                    threshold_db: float = CHECK_MIN_PSNR_DB) -> PrecisionCheck:
    """Compare ``net.dtype`` with float32 on a centre crop of the first image of ``batch``.

    The crop is at most ``side``×``side`` input pixels (a multiple of the network's size
    multiple). When the PSNR of the lower precision's output against float32's is below
    ``threshold_db`` (or either is not finite), ``net.dtype`` becomes float32. The
    result is stored in ``net.check`` and returned.
    """
    tried = net.dtype
    _b, _c, h, w = batch.shape
    m = max(1, net.size_multiple)
    ch = max(min(side, h) // m * m, min(h, m))
    cw = max(min(side, w) // m * m, min(w, m))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    crop = np.ascontiguousarray(batch[:1, :, y0:y0 + ch, x0:x0 + cw])
    reference = _forward(net, crop, torch.float32)
    lower = _forward(net, crop, tried)
    low, high = net.value_range
    psnr = psnr_db(lower, reference, peak=(high - low) or 1.0)
    passed = not math.isnan(psnr) and psnr >= threshold_db
    from semsr_core.infer.device import precision_name

    net.check = PrecisionCheck(precision_name(tried), psnr, float(threshold_db), (ch, cw),
                               passed)
    if not passed:
        net.dtype = torch.float32
    return net.check


def _forward(net: PreparedNetwork, batch: np.ndarray, dtype: torch.dtype, *,
             plain: bool = False) -> np.ndarray:
    module = net.module if plain or net.fast is None else net.fast
    with torch.inference_mode(), _autocast(net.device, dtype):
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(net.device)
        if net.in_channels != x.shape[1]:
            x = x.expand(-1, net.in_channels, -1, -1)
        x = x.contiguous(memory_format=torch.channels_last)
        y = module(x)
        y = y.float()
        if y.shape[1] != 1:
            y = y.mean(dim=1, keepdim=True)
        return y.cpu().numpy()


def bytes_per_pixel(net: PreparedNetwork, probe: int = 64) -> float:
    """Device memory one input pixel costs during a forward pass (activations included).

    On CUDA this is measured on a ``probe``×``probe`` tile; elsewhere it is estimated
    from the largest activation of the network's layers on that tile (×4 for the
    layer's input, temporaries and the dense concatenations of RRDB blocks).
    """
    side = max(probe, net.size_multiple) // net.size_multiple * net.size_multiple
    batch = np.zeros((1, 1, side, side), np.float32)
    if net.device.type == "cuda":
        torch.cuda.synchronize(net.device)
        base = torch.cuda.memory_allocated(net.device)
        torch.cuda.reset_peak_memory_stats(net.device)
        _forward(net, batch, net.dtype)  # not run_network: no precision check on zeros
        peak = torch.cuda.max_memory_allocated(net.device) - base
        return max(float(peak), 1.0) / (side * side)
    largest = 0

    def record(_module: nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal largest
        if torch.is_tensor(output):
            largest = max(largest, output.numel() * output.element_size())

    handles = [m.register_forward_hook(record) for m in net.module.modules()
               if not list(m.children())]
    try:
        _forward(net, batch, net.dtype, plain=True)  # the hooks are on the plain module
    finally:
        for handle in handles:
            handle.remove()
    return 4.0 * max(largest, 4 * net.scale ** 2 * side * side) / (side * side)


def choose_tile_and_batch(*, per_pixel: float, free: int, device_type: str,
                          tile: int | None, batch: int | None, overlap: int,
                          multiple: int = 1) -> tuple[int, int]:
    """Tile side and batch size that fit in ``free`` bytes at ``per_pixel`` bytes per pixel.

    Half of the free GPU memory (a quarter of free RAM on the CPU/MPS) is used. Given
    values are kept; on the CPU the batch defaults to 1 (batching does not speed it up).
    """
    budget = free * (0.5 if device_type == "cuda" else 0.25)
    if tile is None:
        cap = GPU_MAX_AUTO_TILE if device_type == "cuda" else CPU_MAX_AUTO_TILE
        fit = int(math.sqrt(budget / (per_pixel * (batch or 1))))
        tile = max(min(cap, fit), 4 * overlap + multiple, 16)
    tile = max(multiple, tile // multiple * multiple)
    if batch is None:
        if device_type == "cuda":
            batch = int(min(MAX_AUTO_BATCH, max(1, budget // (per_pixel * tile * tile))))
        else:
            batch = 1
    return tile, batch
