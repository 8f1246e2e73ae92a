"""ESRGAN's RRDBNet: the generator of networks N1, N1-reduced and EN1 ([S0] §1.2, App. A).

Parameter names follow the public ESRGAN / Real-ESRGAN state dicts (``conv_first``,
``body.{i}.rdb{1,2,3}.conv{1..5}``, ``conv_body``, ``conv_up1``, ``conv_up2``,
``conv_up3`` for ×8, ``conv_hr``, ``conv_last``), so community weights load
unchanged. Real-ESRGAN's ×2 and ×1 models squeeze the input with a pixel-unshuffle
first; ``unshuffle`` reproduces that.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from semsr_core.archs.arguments import doublings, require_at_least, require_choice
from semsr_core.archs.initialisation import scaled_kaiming_init
from semsr_core.archs.noise_level import noise_sigma
from semsr_core.errors import ConfigError


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3×3 convolutions with a scaled (×0.2) residual.

    Args:
        features: channels in and out of the block.
        growth: channels each inner convolution adds to the dense concatenation.
    """

    def __init__(self, features: int = 64, growth: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(features, growth, 3, 1, 1)
        self.conv2 = nn.Conv2d(features + growth, growth, 3, 1, 1)
        self.conv3 = nn.Conv2d(features + 2 * growth, growth, 3, 1, 1)
        self.conv4 = nn.Conv2d(features + 3 * growth, growth, 3, 1, 1)
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        scaled_kaiming_init(self, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks and a scaled (×0.2) skip."""

    def __init__(self, features: int = 64, growth: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(features, growth)
        self.rdb2 = ResidualDenseBlock(features, growth)
        self.rdb3 = ResidualDenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class ToneCurve(nn.Module):
    """A learnable pointwise tone curve, x + conv1×1(LeakyReLU(conv1×1(x))): piecewise
    linear with :data:`HIDDEN` knots, first spread evenly over [−0.2, 1.2]; the
    identity at start."""

    HIDDEN = 16

    def __init__(self, channels: int):
        super().__init__()
        self.inner = nn.Conv2d(channels, self.HIDDEN, 1)
        self.outer = nn.Conv2d(self.HIDDEN, channels, 1)
        with torch.no_grad():  # unit k: LeakyReLU(x − knot k) of its channel's value
            self.inner.weight.zero_()
            for k in range(self.HIDDEN):
                self.inner.weight[k, k % channels] = 1.0
            self.inner.bias.copy_(-torch.linspace(-0.2, 1.2, self.HIDDEN))
        nn.init.zeros_(self.outer.weight)
        nn.init.zeros_(self.outer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.outer(F.leaky_relu(self.inner(x), 0.2))


class RRDBNet(nn.Module):
    """ESRGAN generator: conv, B RRDBs with a long skip, nearest ×2 upsamplings, two convs.

    Defaults are N1/EN1 of [S0] (8 blocks, 128 features, growth 32, grayscale, ×4).
    N1-reduced uses ``blocks`` 1–4 with ``features=64``; the original ESRGAN ×4 RGB
    network is ``in_channels=3, out_channels=3, blocks=23, features=64``
    (16,697,987 parameters).

    Args:
        in_channels: channels of the input image (1 for grayscale SEM).
        out_channels: channels of the output image.
        scale: overall magnification, 1, 2, 4 or 8. Scale 1 keeps the size (the
            defect-stylizer recipe uses it as an image-to-image network).
        features: channels of the trunk (ESRGAN ``num_feat``).
        blocks: number of RRDBs in the trunk (ESRGAN ``num_block``).
        growth: channels added by each dense convolution (ESRGAN ``num_grow_ch``).
        unshuffle: pixel-unshuffle factor applied to the input, 1, 2 or 4. Real-ESRGAN's
            ×2 models use 2 and its ×1 models 4; the network then upsamples
            ``scale * unshuffle`` times, so ``conv_first`` sees
            ``in_channels * unshuffle**2`` channels. Inputs whose sides are not
            multiples of ``unshuffle`` are edge-padded and the output cropped.
        skip: ``"none"`` (ESRGAN) or ``"bicubic"``: the network adds its output to the
            bicubic enlargement of the input (torch's bicubic, the baseline everywhere in
            semsr), so it learns only what bicubic misses; ``conv_last`` then starts at
            zero, so an untrained network is exactly bicubic. Adds no parameters: the
            state-dict keys stay ESRGAN's.
        highpass: with ``skip="bicubic"``, the σ (in input pixels) of a Gaussian whose
            low-pass of the network's change is taken away before it is added: the
            network then cannot brighten, darken or paint anything wider than a few
            input pixels (its change has zero local mean over a few σ), only sharpen
            and denoise. 0 (the default) keeps the change as it is.
        tone: a learnable pointwise tone curve on the input (``tone.*``: two 1×1
            convolutions around a LeakyReLU, added to the input; it starts as the
            identity). A lab's pairs whose LR and HR differ in contrast, gamma or
            brightness teach it that gap while a ``highpass`` keeps the network from
            changing anything wider than a few pixels. Off (the default): no ``tone.*``
            keys, ESRGAN's state dict.
        noise_input: the network is told how noisy its input is (FFDNet's noise-level
            map): one more input channel holds :data:`NOISE_LEVEL_GAIN`·σ, σ estimated
            from the input itself (:func:`semsr_core.archs.noise_level.noise_sigma`,
            mean over channels), so training and inference see the same number and no
            label is needed (a tiled inference reads it per tile: tiles are hundreds of
            pixels, and a scan's noise varies little across it). A blind network must
            hedge between denoising (and painting what it guesses) and sharpening; told
            that a scan is clean, it need not.
            ``conv_first`` then takes ``(in_channels + 1) * unshuffle**2`` channels.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        scale: int = 4,
        features: int = 128,
        blocks: int = 8,
        growth: int = 32,
        unshuffle: int = 1,
        skip: str = "none",
        highpass: float = 0.0,
        tone: bool = False,
        noise_input: bool = False,
    ):
        super().__init__()
        require_choice("rrdbnet", "scale", scale, (1, 2, 4, 8))
        require_choice("rrdbnet", "unshuffle", unshuffle, (1, 2, 4))
        require_choice("rrdbnet", "skip", skip, ("none", "bicubic"))
        if skip == "bicubic" and in_channels != out_channels:
            raise ConfigError("rrdbnet: skip='bicubic' needs in_channels == out_channels, "
                              f"not {in_channels} and {out_channels}",
                              hint="Use skip='none' for networks that change channels.")
        if highpass and (skip != "bicubic" or not highpass > 0):
            raise ConfigError(f"rrdbnet: highpass={highpass!r} needs skip='bicubic' and "
                              "a σ > 0 in input pixels",
                              hint="Use e.g. skip='bicubic', highpass=1.5, or leave "
                                   "highpass at 0.")
        for key, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("features", features),
            ("growth", growth),
        ):
            require_at_least("rrdbnet", key, value, 1)
        require_at_least("rrdbnet", "blocks", blocks, 0)
        upsamplings = doublings("rrdbnet", "scale * unshuffle", scale * unshuffle, (1, 2, 4, 8))
        self.scale = scale
        self.unshuffle = unshuffle

        self.noise_input = bool(noise_input)
        self.conv_first = nn.Conv2d((in_channels + self.noise_input) * unshuffle**2,
                                    features, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(features, features, 3, 1, 1)
        for i in range(1, upsamplings + 1):
            self.add_module(f"conv_up{i}", nn.Conv2d(features, features, 3, 1, 1))
        self.upsamplings = upsamplings
        self.conv_hr = nn.Conv2d(features, features, 3, 1, 1)
        self.conv_last = nn.Conv2d(features, out_channels, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        self.skip = skip
        self.highpass = float(highpass)
        self.tone = ToneCurve(in_channels) if tone else None
        if skip == "bicubic":
            nn.init.zeros_(self.conv_last.weight)
            nn.init.zeros_(self.conv_last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        x, source = network_input(x, self.tone, self.noise_input)
        if self.unshuffle > 1:
            pad_h = -height % self.unshuffle
            pad_w = -width % self.unshuffle
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for i in range(1, self.upsamplings + 1):
            conv_up = getattr(self, f"conv_up{i}")
            feat = self.lrelu(conv_up(F.interpolate(feat, scale_factor=2, mode="nearest")))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        out = out[..., : height * self.scale, : width * self.scale]
        return add_skip(out, source, self.skip, self.scale, self.highpass)


NOISE_LEVEL_GAIN = 10.0
"""The noise-level channel holds this many times σ ([0, 1] units): 0 for a clean scan,
about 1 for σ = 0.1."""


def network_input(x: torch.Tensor, tone: nn.Module | None, noise_input: bool
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """What RRDBNet's trunk sees and what its bicubic skip enlarges: the input through
    the tone curve, and for ``noise_input`` one more channel with the noise level of the
    input as measured (before the tone curve)."""
    measured = x
    if tone is not None:
        x = tone(x)
    source = x
    if noise_input:
        sigma = noise_sigma(measured.detach().float()).mean(dim=1)
        level = (NOISE_LEVEL_GAIN * sigma).to(x.dtype).view(-1, 1, 1, 1)
        x = torch.cat((x, level.expand(x.shape[0], 1, *x.shape[-2:])), dim=1)
    return x, source


def add_skip(out: torch.Tensor, source: torch.Tensor, skip: str, scale: int,
             highpass: float) -> torch.Tensor:
    """The network's output with RRDBNet's skip added (see :class:`RRDBNet`)."""
    if skip != "bicubic":
        return out
    if highpass > 0:
        out = out - _lowpass(out, highpass * scale)
    return out + F.interpolate(source, scale_factor=scale, mode="bicubic",
                               align_corners=False)


def _lowpass(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of σ ``sigma`` (edge pixels repeated), per channel."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=image.device)
    taps = torch.exp(-x.pow(2) / (2 * sigma * sigma))
    taps = (taps / taps.sum()).to(image.dtype)
    channels = image.shape[1]
    rows = taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    padded = F.pad(image, (radius, radius, radius, radius), mode="replicate")
    blurred = F.conv2d(padded, rows, groups=channels)
    return F.conv2d(blurred, rows.transpose(2, 3), groups=channels)
