"""MASA-SR: reference-based ×4 super-resolution ([S1] §2.3, §3.3; Lu et al. 2021).

``MASANet(lr, reference)`` enlarges ``lr`` with texture taken from ``reference``, an
HR image of similar content (any size, not aligned with ``lr``):

- an encoder of three levels (a 3×3 conv and residual blocks each; levels 2 and 3 halve
  the size) encodes LR, the reference (all three levels: its features at ×4, ×2, ×1 of
  the LR grid) and Ref↓, the reference bicubic-downscaled ×4 (first level only);
- the match & extraction module (MEM) matches coarse to fine: each 8×8 block of the LR
  features finds its most similar Ref↓ block through its centre 3×3 patch at dilations
  1, 2, 3 (stage 1); every 3×3 patch of the block is then matched densely inside that
  block only (stage 2); the matched reference patches are cut from the reference
  features of each scale, weighted by their cosine similarity and folded back (stage 3);
- three fusion modules (×1, ×2, ×4): the spatial adaptation module (SAM) remaps the
  extracted reference features to the LR features' statistics (instance norm, then
  γ, β from convolutions of both, plus the LR's std and mean), the dual residual
  aggregation module (DRAM, ×2 and ×4) refines and merges the LR and reference
  branches, then residual blocks; the output is added to bicubic LR.

[S1]'s network has 64 channels, 4 residual blocks per encoder level and 12, 8, 4 in the
×1, ×2, ×4 fusion modules (the recipes set these); the defaults here are smaller, for
a CPU. Inputs of any size work: LR is padded to a multiple of the block size and the
output cropped back; the reference is cropped to a multiple of 4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsr_core.errors import ConfigError, InputError


class _ResBlock(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


def _blocks(features: int, count: int) -> nn.Sequential:
    return nn.Sequential(*[_ResBlock(features) for _ in range(count)])


class _Encoder(nn.Module):
    """Three levels: full, ½ and ¼ size."""

    def __init__(self, in_channels: int, features: int, blocks: int):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(in_channels, features, 3, 1, 1),
                                    nn.Conv2d(features, features, 3, 2, 1),
                                    nn.Conv2d(features, features, 3, 2, 1)])
        self.blocks = nn.ModuleList([_blocks(features, blocks) for _ in range(3)])

    def forward(self, x: Tensor, levels: int = 3) -> list[Tensor]:
        out = []
        for conv, blocks in list(zip(self.convs, self.blocks, strict=True))[:levels]:
            x = blocks(F.relu(conv(x)))
            out.append(x)
        return out


class SpatialAdaptation(nn.Module):
    """SAM ([S1] eq. 2.27–2.32): F_ref ← IN(F_ref)·(γ + σ_LR) + (β + μ_LR), where γ and
    β are convolutions of [F_LR, F_ref] (zero at the start: pure statistics transfer)."""

    def __init__(self, features: int):
        super().__init__()
        self.shared = nn.Conv2d(2 * features, features, 3, padding=1)
        self.gamma = nn.Conv2d(features, features, 3, padding=1)
        self.beta = nn.Conv2d(features, features, 3, padding=1)
        for conv in (self.gamma, self.beta):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, lr: Tensor, ref: Tensor) -> Tensor:
        style = F.relu(self.shared(torch.cat([lr, ref], dim=1)))
        mu_lr = lr.mean(dim=(-2, -1), keepdim=True)
        sigma_lr = lr.var(dim=(-2, -1), keepdim=True, unbiased=False).add(1e-5).sqrt()
        normed = F.instance_norm(ref, eps=1e-5)
        return normed * (self.gamma(style) + sigma_lr) + self.beta(style) + mu_lr


class DualResidualAggregation(nn.Module):
    """DRAM ([S1] eq. 2.33–2.34): the reference branch adds back the upsampled residual
    of its downsampled self against LR; the LR branch upsamples LR plus its residual
    against the downsampled reference; a conv merges the two."""

    def __init__(self, features: int):
        super().__init__()
        self.down_ref = nn.Conv2d(features, features, 3, 2, 1)
        self.up_ref = nn.ConvTranspose2d(features, features, 3, 2, 1, output_padding=1)
        self.down_lr = nn.Conv2d(features, features, 3, 2, 1)
        self.up_lr = nn.ConvTranspose2d(features, features, 3, 2, 1, output_padding=1)
        self.merge = nn.Conv2d(2 * features, features, 3, padding=1)

    def forward(self, lr: Tensor, ref: Tensor) -> Tensor:
        res_ref = F.relu(self.down_ref(ref)) - lr
        ref_out = ref + F.relu(self.up_ref(res_ref))
        res_lr = lr - F.relu(self.down_lr(ref))
        lr_out = F.relu(self.up_lr(lr + res_lr))
        return F.relu(self.merge(torch.cat([ref_out, lr_out], dim=1)))


def _take_blocks(features: Tensor, batch_index: Tensor, top: Tensor, left: Tensor,
                 height: int, width: int) -> Tensor:
    """Blocks ``features[b, :, top:top+height, left:left+width]`` for each row of the
    index tensors (all of length B'); returns B'×C×height×width."""
    rows = top[:, None] + torch.arange(height, device=top.device)
    cols = left[:, None] + torch.arange(width, device=left.device)
    nhwc = features.permute(0, 2, 3, 1)
    return nhwc[batch_index[:, None, None], rows[:, :, None], cols[:, None, :]].permute(
        0, 3, 1, 2)


class MASANet(nn.Module):
    """MASA-SR generator; ``forward(lr, reference)`` (see the module docstring).

    Args:
        in_channels, out_channels: image channels (1 for SEM).
        scale: the enlargement; 4 only (the encoder's three levels are ×1, ×2, ×4).
        features: channels everywhere ([S1]: 64).
        encoder_blocks: residual blocks per encoder level ([S1]: 4).
        decoder_blocks: residual blocks per level of the LR features' decoder ([S1]: 2).
        fusion_blocks: residual blocks after the ×1, ×2 and ×4 fusion ([S1]: 12, 8, 4).
        lr_block: side of the LR blocks matched in stage 1 ([S1]: 8).
        ref_block: Ref↓ block side relative to the LR block, scaled by the Ref↓/LR size
            ratio ([S1]: 1.5).
        dilations: of the centre patch in stage 1 ([S1]'s code: 1, 2, 3).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, scale: int = 4,
                 features: int = 32, encoder_blocks: int = 2, decoder_blocks: int = 1,
                 fusion_blocks: tuple[int, int, int] | list[int] = (4, 3, 2),
                 lr_block: int = 8, ref_block: float = 1.5,
                 dilations: tuple[int, ...] | list[int] = (1, 2, 3)):
        super().__init__()
        if scale != 4:
            raise ConfigError(f"masa: scale {scale} is not supported",
                              hint="MASA-SR enlarges ×4 (data.scale = 4)")
        fusion_blocks = tuple(int(b) for b in fusion_blocks)
        if len(fusion_blocks) != 3:
            raise ConfigError(f"masa: fusion_blocks needs 3 counts (×1, ×2, ×4), got "
                              f"{list(fusion_blocks)}")
        if lr_block < 4 or lr_block % 4:
            raise ConfigError(f"masa: lr_block must be a multiple of 4, got {lr_block}")
        self.scale, self.lr_block, self.ref_block = scale, int(lr_block), float(ref_block)
        self.dilations = tuple(int(d) for d in dilations)
        if not self.dilations or max(self.dilations) * 2 + 1 > lr_block + 2:
            raise ConfigError(f"masa: dilations {list(self.dilations)} do not fit the "
                              f"{lr_block}-pixel LR block")
        f = features
        self.encoder = _Encoder(in_channels, f, encoder_blocks)
        self.reference_channels = in_channels
        # decoder of the LR features (¼ → ½ → full)
        self.dec3 = nn.Sequential(nn.Conv2d(f, f, 3, padding=1), nn.ReLU(),
                                  _blocks(f, decoder_blocks))
        self.dec2 = nn.Conv2d(2 * f, f, 3, padding=1)
        self.dec2_blocks = _blocks(f, decoder_blocks)
        self.dec1 = nn.Conv2d(2 * f, f, 3, padding=1)
        self.dec1_blocks = _blocks(f, decoder_blocks)
        # fusion at ×1, ×2, ×4
        self.sam = nn.ModuleList([SpatialAdaptation(f) for _ in range(3)])
        self.merge1 = nn.Conv2d(2 * f, f, 3, padding=1)
        self.dram = nn.ModuleList([DualResidualAggregation(f) for _ in range(2)])
        self.fusion = nn.ModuleList([_blocks(f, n) for n in fusion_blocks])
        self.out = nn.Conv2d(f, out_channels, 3, padding=1)
        for module in self.modules():  # residual branches start small ([S1]'s code: ×0.1)
            if isinstance(module, _ResBlock):
                module.conv1.weight.data.mul_(0.1)
                module.conv2.weight.data.mul_(0.1)

    # ------------------------------------------------------------ matching

    def match(self, f_lr: Tensor, f_down: Tensor, f_refs: list[Tensor]) -> list[Tensor]:
        """MEM: the reference features of each scale (×1, ×2, ×4 of ``f_lr``'s grid)
        rearranged to follow ``f_lr``, weighted by the match similarity."""
        n, c, h, w = f_lr.shape
        k = self.lr_block
        py, px = h // k, w // k
        hr_, wr_ = f_down.shape[-2:]
        dy = min(2 * int(k * self.ref_block * hr_ / h / 2) + 1, hr_ - 2)
        dx = min(2 * int(k * self.ref_block * wr_ / w / 2) + 1, wr_ - 2)
        blocks = py * px
        # stage 1: each LR block's centre patch (several dilations) against all of Ref↓
        score = 0
        cy = torch.arange(py, device=f_lr.device) * k + k // 2
        cx = torch.arange(px, device=f_lr.device) * k + k // 2
        for d in self.dilations:
            offsets = torch.arange(-d, d + 1, d, device=f_lr.device)
            rows = (cy[:, None, None, None] + offsets[None, None, :, None]).expand(py, px, 3, 3)
            cols = (cx[None, :, None, None] + offsets[None, None, None, :]).expand(py, px, 3, 3)
            centre = f_lr[:, :, rows, cols]  # N×C×py×px×3×3
            centre = centre.permute(0, 2, 3, 1, 4, 5).reshape(n, blocks, c * 9)
            keys = F.unfold(f_down, 3, dilation=d, padding=d)  # N×9C×(Hr·Wr)
            score = score + torch.bmm(F.normalize(centre, dim=2), F.normalize(keys, dim=1))
        best = score.argmax(dim=2)  # N×blocks
        top = (best // wr_ - dy // 2 - 1).clamp(0, hr_ - dy - 2).reshape(-1)
        left = (best % wr_ - dx // 2 - 1).clamp(0, wr_ - dx - 2).reshape(-1)
        batch = torch.arange(n, device=f_lr.device).repeat_interleave(blocks)
        # stage 2: dense 3×3 patch matching of each LR block inside its Ref↓ block
        padded = F.pad(f_lr, (1, 1, 1, 1), mode="replicate")
        by = (torch.arange(py, device=f_lr.device) * k).repeat_interleave(px).repeat(n)
        bx = (torch.arange(px, device=f_lr.device) * k).repeat(py).repeat(n)
        lr_blocks = _take_blocks(padded, batch, by, bx, k + 2, k + 2)
        ref_blocks = _take_blocks(f_down, batch, top, left, dy + 2, dx + 2)
        queries = F.normalize(F.unfold(lr_blocks, 3), dim=1)  # B'×9C×k²
        keys = F.normalize(F.unfold(ref_blocks, 3), dim=1)  # B'×9C×(dy·dx)
        similarity, index = torch.bmm(queries.transpose(1, 2), keys).max(dim=2)  # B'×k²
        jy, jx = index // dx, index % dx
        weight = similarity.reshape(-1, 1, k, k)
        # stage 3: cut the matched patches from each scale's reference features, fold
        out = []
        for s, f_ref in zip((1, 2, 4), f_refs, strict=True):
            block = _take_blocks(f_ref, batch, s * top, s * left, s * (dy + 2), s * (dx + 2))
            span = torch.arange(3 * s, device=f_lr.device)
            rows = s * jy[:, :, None] + span  # B'×k²×3s
            cols = s * jx[:, :, None] + span
            b = torch.arange(block.shape[0], device=f_lr.device)[:, None, None, None]
            patches = block.permute(0, 2, 3, 1)[b, rows[:, :, :, None], cols[:, :, None, :]]
            patches = patches.permute(0, 4, 2, 3, 1).reshape(block.shape[0], c * 9 * s * s,
                                                              k * k)
            size = (s * k, s * k)
            folded = F.fold(patches, size, 3 * s, padding=s, stride=s)
            count = F.fold(torch.ones_like(patches[:1]), size, 3 * s, padding=s, stride=s)
            folded = folded / count * F.interpolate(weight, size=size, mode="bilinear",
                                                    align_corners=False)
            folded = folded.reshape(n, py, px, c, s * k, s * k).permute(0, 3, 1, 4, 2, 5)
            out.append(folded.reshape(n, c, s * h, s * w))
        return out

    # ------------------------------------------------------------ forward

    def forward(self, lr: Tensor, reference: Tensor) -> Tensor:
        n, _, h, w = lr.shape
        if reference.dim() != 4 or reference.shape[1] != self.reference_channels:
            raise InputError(f"masa: the reference has shape {tuple(reference.shape)}, not "
                             f"N×{self.reference_channels}×H×W")
        rh, rw = reference.shape[-2] // 4 * 4, reference.shape[-1] // 4 * 4
        if min(rh, rw) < 4 * (max(self.dilations) + 3):
            raise InputError(f"the reference is {reference.shape[-2]}×{reference.shape[-1]} "
                             f"pixels; MASA-SR needs at least {4 * (max(self.dilations) + 3)}",
                             hint="Give a larger reference image.")
        reference = reference[..., :rh, :rw]
        if reference.shape[0] != n:
            reference = reference.expand(n, -1, -1, -1)
        k = self.lr_block
        ph, pw = -h % k, -w % k
        x = F.pad(lr, (0, pw, 0, ph), mode="replicate") if ph or pw else lr
        down = F.interpolate(reference, scale_factor=0.25, mode="bicubic",
                             align_corners=False, antialias=True)
        f_lr = self.encoder(x)
        f_down = self.encoder(down, levels=1)[0]
        f_ref = self.encoder(reference)  # full, ½, ¼: ×4, ×2, ×1 of the LR grid
        warped = self.match(f_lr[0], f_down, [f_ref[2], f_ref[1], f_ref[0]])
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear",  # noqa: E731
                                     align_corners=False)
        d3 = self.dec3(f_lr[2])
        d2 = self.dec2_blocks(F.relu(self.dec2(torch.cat([up(d3), f_lr[1]], dim=1))))
        d1 = self.dec1_blocks(F.relu(self.dec1(torch.cat([up(d2), f_lr[0]], dim=1))))
        ref1 = self.sam[0](d1, warped[0])
        x1 = self.fusion[0](F.relu(self.merge1(torch.cat([ref1, d1], dim=1))))
        ref2 = self.sam[1](up(x1), warped[1])
        x2 = self.fusion[1](self.dram[0](x1, ref2))
        ref4 = self.sam[2](up(x2), warped[2])
        x4 = self.fusion[2](self.dram[1](x2, ref4))
        bicubic = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
        out = self.out(x4) + bicubic
        return out[..., : 4 * h, : 4 * w]
