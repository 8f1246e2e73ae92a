"""A generator made ready for inference on one device, and how big its tiles may be.

:func:`prepare_network` copies the model's generator to the device in evaluation mode
and channels-last layout (oneDNN on the CPU and tensor cores on CUDA are fastest with
it), and records what the model card and the architecture say about feeding it.
:func:`run_network` is the ``forward`` that :func:`semsr_core.infer.tiling.run_tiled`
calls: a float32 numpy batch in, float32 numpy out, under ``torch.inference_mode`` and,
off float32, ``torch.autocast``. Grayscale images meet RGB community models by
replicating the channel; their colour output is averaged back to one channel.
"""

from __future__ import annotations

import contextlib
import copy
import math
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
class PreparedNetwork:
    """A generator on its device, with how to feed it.

    ``scale`` is the factor between the network's input and output (1 for networks
    that take the image already upscaled to the output size).
    """

    module: nn.Module
    device: torch.device
    dtype: torch.dtype
    scale: int
    in_channels: int
    out_channels: int
    size_multiple: int


def prepare_network(module: nn.Module, *, device: torch.device, dtype: torch.dtype,
                    scale: int, in_channels: int, out_channels: int,
                    size_multiple: int = 1) -> PreparedNetwork:
    """A private copy of ``module`` on ``device`` in evaluation mode and channels-last layout.

    The caller's module is left as it was (device, mode and weights).
    """
    private = copy.deepcopy(module).to(device)
    private.eval()
    private.requires_grad_(False)
    private = private.to(memory_format=torch.channels_last)
    return PreparedNetwork(private, device, dtype, scale, in_channels, out_channels,
                           size_multiple)


def _autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def run_network(net: PreparedNetwork, batch: np.ndarray) -> np.ndarray:
    """Run ``net`` on a float32 (B, 1, h, w) batch; returns float32 (B, 1, h·s, w·s)."""
    with torch.inference_mode(), _autocast(net.device, net.dtype):
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(net.device)
        if net.in_channels != x.shape[1]:
            x = x.expand(-1, net.in_channels, -1, -1)
        x = x.contiguous(memory_format=torch.channels_last)
        y = net.module(x)
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
        run_network(net, batch)
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
        run_network(net, batch)
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
