"""Spatially-correlative loss with fixed VGG16 features (FSeSim; [S1] eq. 2.18–2.19).

After Zheng et al. 2021, "The spatially-correlative loss for various image
translation tasks". The structure of an image is described by self-similarity: for a
query point, the cosine similarity between its feature and the features of every
point of the P×P patch around it (the spatially-correlative map, eq. 2.18). The loss
compares these maps between the generator's input (source) and its output at the same
N_s sampled query points (eq. 2.19), so it keeps structure while letting appearance
(contrast, brightness, texture) change.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor

from semsr_core.errors import ConfigError
from semsr_core.losses.roles import Loss, LossRole
from semsr_core.losses.vgg import VGGFeatures


def correlation_maps(features: Tensor, rows: Tensor, cols: Tensor, patch_size: int) -> Tensor:
    """Spatially-correlative maps of one feature batch at the given query points.

    ``features`` is N×C×H×W; ``rows``/``cols`` hold the N_s query positions. Features
    are centred (spatial mean removed per channel) and L2-normalised over channels, so
    each map entry is a cosine similarity. Neighbours outside the image count as zero.
    Returns N×N_s×P² (P = ``patch_size``).
    """
    radius = patch_size // 2
    f = features - features.mean(dim=(-2, -1), keepdim=True)
    f = F.normalize(f, dim=1)
    padded = F.pad(f, (radius, radius, radius, radius))
    offsets = torch.arange(-radius, radius + 1, device=f.device)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    key_rows = (rows[:, None] + radius + dy.reshape(1, -1))  # N_s × P²
    key_cols = (cols[:, None] + radius + dx.reshape(1, -1))
    keys = padded[:, :, key_rows, key_cols]  # N × C × N_s × P²
    queries = f[:, :, rows, cols]  # N × C × N_s
    return torch.einsum("bcn,bcnp->bnp", queries, keys)


class SpatialCorrelativeLoss(Loss):
    """FSeSim: distance between the self-similarity maps of source and output.

    Args:
        layers: VGG16 layers by SRGAN name (``"33"`` = relu3_3) whose features are compared.
        num_points: N_s, the query points sampled per layer (fewer if the map is smaller).
        patch_size: P, odd side of the patch around each query point, in feature pixels.
        distance: ``"cosine"`` (1 − cos between the maps; ignores their magnitude) or
            ``"l1"`` (mean absolute difference).
        value_range, weights: as for :class:`~semsr_core.losses.vgg.VGGFeatures`.

    Call ``loss(source, output, generator=None)`` (the generator's input, at the
    output size, and its output). The same points are sampled for both (and for every
    image of the batch); ``generator`` makes the sampling reproducible. The distance
    is symmetric and gradients reach whichever argument requires them, so the order
    cannot silently stop training. The per-layer distances are averaged.
    """

    role = LossRole.INPUT_REFERENCED

    def __init__(self, layers: tuple[str, ...] | list[str] = ("22", "33", "43"),
                 num_points: int = 256, patch_size: int = 7, distance: str = "cosine",
                 value_range: tuple[float, float] | list[float] = (0.0, 1.0),
                 weights: str | os.PathLike | None = None):
        super().__init__()
        if distance not in ("cosine", "l1"):
            raise ConfigError(f"fsesim: unknown distance {distance!r}",
                              hint="use 'cosine' or 'l1'")
        if not isinstance(patch_size, int) or patch_size < 3 or patch_size % 2 == 0:
            raise ConfigError(f"fsesim: patch_size must be an odd integer ≥ 3, got {patch_size!r}")
        if not isinstance(num_points, int) or num_points < 1:
            raise ConfigError(f"fsesim: num_points must be a positive integer, got {num_points!r}")
        self.num_points, self.patch_size, self.distance = num_points, patch_size, distance
        self.net = VGGFeatures("vgg16", tuple(layers), True, value_range, weights)

    def forward(self, source: Tensor, output: Tensor,
                generator: torch.Generator | None = None) -> Tensor:
        if output.shape != source.shape:
            raise ConfigError(
                f"fsesim: the source has shape {tuple(source.shape)} but the output "
                f"{tuple(output.shape)}",
                hint="feed the generator's input at the output size (e.g. bicubic-upscaled)",
            )
        src_features = self.net(source)
        out_features = self.net(output)
        losses = []
        for layer in self.net.layers:
            height, width = out_features[layer].shape[-2:]
            count = min(self.num_points, height * width)
            picks = torch.randperm(height * width, generator=generator)[:count]
            picks = picks.to(out_features[layer].device)
            rows, cols = picks // width, picks % width
            s_out = correlation_maps(out_features[layer], rows, cols, self.patch_size)
            s_src = correlation_maps(src_features[layer], rows, cols, self.patch_size)
            if self.distance == "l1":
                losses.append(F.l1_loss(s_out, s_src))
            else:
                losses.append((1.0 - F.cosine_similarity(s_out, s_src, dim=-1)).mean())
        return torch.stack(losses).mean()
