"""Learned self-similarity loss (LSeSim; [S1] §2.2 eq. 2.20–2.21, Zheng et al. 2021).

Like FSeSim (:mod:`~semsr_core.losses.fsesim`), the generator's structure term compares
the spatially-correlative maps (eq. 2.18) of its input and output at N_s sampled
query points (eq. 2.19). Here the features come from a *structure network* trained
alongside the generator with a patch-level InfoNCE on those maps (eq. 2.20): the map
of a query point in the source x should be closest to the map at the same point of
x_aug, a structure-preserving (photometric) augmentation of x, and far from the maps
at the other sampled points of x_aug and at the same points of another image y.

The structure network is either fixed VGG16 features with a learned 1×1-conv head
per layer (``backbone = "vgg16"``, as Zheng et al.'s learned variant; the VGG16
weights are the user's file, as for FSeSim) or a small conv net of its own trained
from scratch (``backbone = "own"``: no weights file needed). The engine trains it
through :meth:`LSeSimLoss.structure_step` with its own optimiser
(:mod:`semsr_core.train.contrastive`), once per step after the generator's update.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsr_core.errors import ConfigError
from semsr_core.losses.fsesim import correlation_maps
from semsr_core.losses.roles import Loss, LossRole


def map_distance(source_maps: Tensor, output_maps: Tensor, distance: str) -> Tensor:
    """d(S_x, S_ŷ) of eq. 2.19 between N×N_s×P² maps: mean 1 − cos, or mean |·|."""
    if distance == "l1":
        return F.l1_loss(output_maps, source_maps)
    return (1.0 - F.cosine_similarity(output_maps, source_maps, dim=-1)).mean()


def map_info_nce(query: Tensor, positive: Tensor, other: Tensor | None,
                 temperature: float) -> Tensor:
    """InfoNCE of eq. 2.20 over N×N_s×P² spatially-correlative maps.

    For query point i of image n: the positive is ``positive[n, i]``; the negatives are
    ``positive[n, j]`` (j ≠ i: the other sampled points of the augmented image) and,
    when given, ``other[n, j]`` for every j (the same points of another image).
    Similarities are cosines divided by ``temperature``; returns the mean
    cross-entropy over all queries."""
    q = F.normalize(query, dim=-1)
    k = F.normalize(positive, dim=-1)
    logits = torch.bmm(q, k.transpose(1, 2))  # N × N_s × N_s, positives on the diagonal
    if other is not None:
        logits = torch.cat([logits, torch.bmm(q, F.normalize(other, dim=-1).transpose(1, 2))],
                           dim=2)
    n, s, _ = logits.shape
    target = torch.arange(s, device=logits.device).expand(n, s)
    return F.cross_entropy((logits / temperature).reshape(n * s, -1), target.reshape(-1))


def photometric_augment(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """x_aug: the same structure with another look, per image of a [0, 1] batch:
    random gamma (0.6–1.6), contrast (0.6–1.4) and brightness (±0.15), then a 3×3 blur
    (half the time) and Gaussian noise (σ ≤ 0.04). No geometric change, so a point of
    x is the same point of x_aug."""
    n = images.shape[0]

    def uniform(low: float, high: float) -> Tensor:
        r = torch.rand(n, 1, 1, 1, generator=generator).to(images.device, images.dtype)
        return low + (high - low) * r

    x = images.clamp(0, 1)
    x = x ** torch.exp(math.log(0.6) + (math.log(1.6) - math.log(0.6)) * uniform(0, 1))
    mean = x.mean(dim=(-2, -1), keepdim=True)
    x = (x - mean) * uniform(0.6, 1.4) + mean + uniform(-0.15, 0.15)
    kernel = torch.tensor([1.0, 2.0, 1.0], device=x.device, dtype=x.dtype)
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(x.shape[1], 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
    x = torch.where(uniform(0, 1) < 0.5, blurred, x)
    noise = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
    return x + noise * uniform(0.0, 0.04)


def _head(channels: int) -> nn.Module:
    """Zheng et al.'s learned head of a VGG layer: 1×1 conv, ReLU, 1×1 conv."""
    width = max(32, channels // 4)
    return nn.Sequential(nn.Conv2d(channels, width, 1), nn.ReLU(), nn.Conv2d(width, width, 1))


class OwnFeatures(nn.Module):
    """A small structure network of its own: two stages of 3×3 convs (32 channels at
    full, 64 at half resolution), features named ``"1"`` and ``"2"``."""

    layers = ("1", "2")

    def __init__(self, in_channels: int = 1):
        super().__init__()
        self.stage1 = nn.Sequential(nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(),
                                    nn.Conv2d(32, 32, 3, padding=1), nn.ReLU())
        self.stage2 = nn.Sequential(nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                                    nn.Conv2d(64, 64, 3, padding=1))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        first = self.stage1(x)
        return {"1": first, "2": self.stage2(first)}


class LSeSimLoss(Loss):
    """LSeSim: FSeSim's map distance on features of a structure network trained by InfoNCE.

    Args:
        backbone: ``"vgg16"`` (fixed VGG16 ``layers`` + a learned 1×1-conv head each)
            or ``"own"`` (:class:`OwnFeatures`, all trained; ``layers`` is ignored).
        layers: VGG16 layers by SRGAN name (``"33"`` = relu3_3).
        num_points: N_s, query points sampled per layer: the InfoNCE has N_s − 1
            negatives from x_aug (K = 255 with 256, as [S1]) plus N_s from the other image.
        patch_size: P, odd side of the neighbourhood of each map, in feature pixels.
        temperature: τ of eq. 2.20 ([S1] gives no value; 0.07 as CUT's PatchNCE).
        distance: ``"cosine"`` or ``"l1"``, the generator's d(·,·) (eq. 2.19).
        value_range, weights: as for FSeSim (the images' range; the VGG16 file).

    ``loss(source, output)`` is the generator's term: the structure network is held
    fixed, gradients reach the images. ``structure_step(source, output, other)`` is
    the structure network's InfoNCE loss (``output`` is not used: the positive is
    x_aug, as [S1] describes); the engine minimises it with the network's optimiser.
    ``state_dict`` holds the trained parts only (never the fixed VGG16 weights).
    """

    role = LossRole.INPUT_REFERENCED
    trains_structure_net = True

    def __init__(self, backbone: str = "vgg16",
                 layers: tuple[str, ...] | list[str] = ("22", "33", "43"),
                 num_points: int = 256, patch_size: int = 7, temperature: float = 0.07,
                 distance: str = "cosine",
                 value_range: tuple[float, float] | list[float] = (0.0, 1.0),
                 weights: str | os.PathLike | None = None):
        super().__init__()
        if backbone not in ("vgg16", "own"):
            raise ConfigError(f"lsesim: unknown backbone {backbone!r}",
                              hint="use 'vgg16' (needs the VGG16 weights file) or 'own'")
        if distance not in ("cosine", "l1"):
            raise ConfigError(f"lsesim: unknown distance {distance!r}",
                              hint="use 'cosine' or 'l1'")
        if not isinstance(patch_size, int) or patch_size < 3 or patch_size % 2 == 0:
            raise ConfigError(f"lsesim: patch_size must be an odd integer ≥ 3, got {patch_size!r}")
        if not isinstance(num_points, int) or num_points < 2:
            raise ConfigError(f"lsesim: num_points must be an integer ≥ 2, got {num_points!r}")
        if not temperature > 0:
            raise ConfigError(f"lsesim: temperature must be positive, got {temperature!r}")
        self.backbone, self.num_points, self.patch_size = backbone, num_points, patch_size
        self.temperature, self.distance = float(temperature), distance
        low, high = (float(v) for v in value_range)
        self.value_range = (low, high)
        self.vgg: nn.Module | None = None
        if backbone == "vgg16":
            from semsr_core.losses.vgg import VGGFeatures, expected_shapes, layer_indices

            self.vgg = VGGFeatures("vgg16", tuple(layers), True, value_range, weights)
            shapes, convs = expected_shapes("vgg16"), layer_indices("vgg16")
            self.layers = tuple(self.vgg.layers)
            self.heads = nn.ModuleDict({
                n: _head(shapes[f"features.{convs[n][0]}.bias"][0]) for n in self.layers})
        else:
            self.own = OwnFeatures()
            self.layers = OwnFeatures.layers

    # ------------------------------------------------------------ features

    def features(self, images: Tensor) -> dict[str, Tensor]:
        """The structure network's features of a batch, by layer name."""
        if self.vgg is None:
            low, high = self.value_range
            return self.own((images - low) / (high - low))
        fixed = self.vgg(images)
        return {name: self.heads[name](fixed[name]) for name in self.layers}

    def _trained(self) -> list[nn.Module]:
        return [self.heads] if self.vgg is not None else [self.own]

    def _points(self, feature: Tensor, generator: torch.Generator | None):
        height, width = feature.shape[-2:]
        count = min(self.num_points, height * width)
        picks = torch.randperm(height * width, generator=generator)[:count].to(feature.device)
        return picks // width, picks % width

    # ------------------------------------------------------------ the two losses

    def forward(self, source: Tensor, output: Tensor,
                generator: torch.Generator | None = None) -> Tensor:
        if output.shape != source.shape:
            raise ConfigError(
                f"lsesim: the source has shape {tuple(source.shape)} but the output "
                f"{tuple(output.shape)}",
                hint="feed the generator's input at the output size (e.g. bicubic-upscaled)")
        trained = self._trained()
        for part in trained:
            part.requires_grad_(False)  # the generator's term does not train the net
        try:
            src, out = self.features(source), self.features(output)
            losses = []
            for name in self.layers:
                rows, cols = self._points(out[name], generator)
                s_src = correlation_maps(src[name], rows, cols, self.patch_size)
                s_out = correlation_maps(out[name], rows, cols, self.patch_size)
                losses.append(map_distance(s_src, s_out, self.distance))
        finally:
            for part in trained:
                part.requires_grad_(True)
        return torch.stack(losses).mean()

    def structure_step(self, source: Tensor, output: Tensor, other: Tensor,
                       generator: torch.Generator | None = None) -> Tensor:
        """The structure network's InfoNCE (eq. 2.20), averaged over layers: queries from
        ``source``, positives from its augmentation, negatives from the augmentation's
        other points and from ``other`` (resized to the source's size if it differs)."""
        del output  # the positive is x_aug ([S1] §2.2)
        if other.shape[-2:] != source.shape[-2:]:
            other = F.interpolate(other, size=source.shape[-2:], mode="bilinear",
                                  align_corners=False)
        low, high = self.value_range
        unit = (source.detach() - low) / (high - low)
        augmented = photometric_augment(unit, generator) * (high - low) + low
        feats = {k: self.features(x) for k, x in
                 (("x", source.detach()), ("aug", augmented), ("y", other.detach()))}
        losses = []
        for name in self.layers:
            rows, cols = self._points(feats["x"][name], generator)
            maps = [correlation_maps(feats[k][name], rows, cols, self.patch_size)
                    for k in ("x", "aug", "y")]
            losses.append(map_info_nce(*maps, temperature=self.temperature))
        return torch.stack(losses).mean()

    # ------------------------------------------------------------ checkpoints

    def state_dict(self, *args, **kwargs):  # the trained parts only
        return nn.ModuleList(self._trained()).state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return nn.ModuleList(self._trained()).load_state_dict(state_dict, strict, assign)
