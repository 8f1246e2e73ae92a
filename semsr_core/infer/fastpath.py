"""A faster inference forward for RRDBNet generators on the CPU, with the same weights.

:func:`fast_module` returns, for an :class:`~semsr_core.archs.rrdbnet.RRDBNet` in
evaluation mode, a module that computes the same function with fewer memory passes
(``benchmarks/speed.notes.md`` has what each change gained):

- each convolution followed by LeakyReLU is one oneDNN call with the activation as a
  post-op (``torch.ops.mkldnn._convolution_pointwise``) instead of a convolution and an
  elementwise pass over its output;
- a dense block's last convolution adds its input in the same call,
  its ×0.2 folded into the weights (an ``add`` post-op);
- a nearest ×2 upsampling followed by a 3×3 convolution is computed at the low
  resolution as the four 2×2 convolutions it is equal to (one call, 4× the output
  channels) and interleaved: 16/36 of the multiply-adds and no upsampled copy.

The result equals the plain module's up to float rounding (``tests/infer/test_fastpath.py``).
Anything else — another architecture, a module in training mode, a device other than
the CPU, a torch without oneDNN — gets ``None``, and the caller runs the module itself.
The source module's parameters are read, never changed; its state dict is untouched.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from semsr_core.archs.rrdbnet import RRDBNet, add_skip, network_input

SLOPE = 0.2
"""LeakyReLU slope of RRDBNet."""


def _mkldnn_ready() -> bool:
    ops = getattr(torch.ops, "mkldnn", None)
    return bool(torch.backends.mkldnn.is_available() and ops is not None
                and hasattr(ops, "_convolution_pointwise"))


def fast_module(module: nn.Module) -> nn.Module | None:
    """The fast CPU forward of ``module``, or ``None`` where there is none."""
    if type(module) is not RRDBNet or module.training or not _mkldnn_ready():
        return None
    if any(p.device.type != "cpu" for p in module.parameters()):
        return None
    return FastRRDBNet(module)


def _padded(pad: int) -> list[int]:
    return [pad, pad]


class _Conv:
    """One 3×3 (or 2×2) convolution's weights, per compute dtype, channels-last."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, padding: int):
        self.weight = weight.detach().contiguous(memory_format=torch.channels_last)
        self.bias = None if bias is None else bias.detach().contiguous()
        self.padding = padding
        self._cast: dict[torch.dtype, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def weights(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
        if dtype == self.weight.dtype:
            return self.weight, self.bias
        if dtype not in self._cast:
            self._cast[dtype] = (self.weight.to(dtype).contiguous(
                memory_format=torch.channels_last),
                None if self.bias is None else self.bias.to(dtype))
        return self._cast[dtype]

    def __call__(self, x: torch.Tensor, act: bool = False) -> torch.Tensor:
        weight, bias = self.weights(x.dtype)
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, _padded(self.padding), [1, 1], [1, 1], 1,
            "leaky_relu" if act else "none", [SLOPE] if act else [], "")

    def plus(self, x: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """This convolution of ``x`` plus ``other``, in one call."""
        weight, bias = self.weights(x.dtype)
        return torch.ops.mkldnn._convolution_pointwise(
            x, other, weight, bias, _padded(self.padding), [1, 1], [1, 1], 1,
            "add", 1.0, None, [], None)


def _conv(layer: nn.Conv2d, scale: float = 1.0) -> _Conv:
    bias = None if layer.bias is None else layer.bias * scale
    return _Conv(layer.weight * scale, bias, 1)


def _upsampling_conv(layer: nn.Conv2d) -> _Conv:
    """The 2×2 convolutions equal to ``layer`` (3×3) applied after a nearest ×2 upsampling.

    Output row ``2i + a`` of the upsampled convolution reads low-resolution rows
    ``i - 1, i, i`` (``a = 0``) or ``i, i, i + 1`` (``a = 1``), so its kernel rows merge
    to two; the same for columns. The four phases ``(a, b)`` are stacked phase-major
    on the output channels: ``(2a + b) * out + o``.
    """
    w = layer.weight.detach()
    merge = ((lambda k: torch.stack((k[:, :, 0], k[:, :, 1] + k[:, :, 2]), 2)),
             (lambda k: torch.stack((k[:, :, 0] + k[:, :, 1], k[:, :, 2]), 2)))
    phases = []
    for a in (0, 1):
        rows = merge[a](w)
        for b in (0, 1):
            cols = merge[b](rows.transpose(2, 3)).transpose(2, 3)
            phases.append(cols)
    bias = None if layer.bias is None else layer.bias.detach().repeat(4)
    return _Conv(torch.cat(phases, 0), bias, 0)


def _upsample_conv_act(conv: _Conv, feat: torch.Tensor) -> torch.Tensor:
    """LeakyReLU(conv3×3(nearest×2(feat))) through the 2×2 phase convolutions."""
    n, _c, h, w = feat.shape
    y = conv(F.pad(feat, (1, 1, 1, 1)), act=True)  # (n, 4·out, h + 1, w + 1)
    out_channels = y.shape[1] // 4
    # phase (a, b) of output pixel (2i + a, 2j + b), channel o, is y[(2a + b)·out + o,
    # i + a, j + b]: an offset linear in (i, a, j, b, o), so one strided view and one copy
    s_n, s_c, s_h, s_w = y.stride()
    grid = y.as_strided((n, h, 2, w, 2, out_channels),
                        (s_n, s_h, s_h + 2 * out_channels * s_c, s_w,
                         s_w + out_channels * s_c, s_c), y.storage_offset())
    return grid.reshape(n, 2 * h, 2 * w, out_channels).permute(0, 3, 1, 2)


class FastRRDBNet(nn.Module):
    """RRDBNet's forward through fused oneDNN calls (see the module docstring)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.scale = net.scale
        self.unshuffle = net.unshuffle
        self.skip = net.skip
        self.highpass = net.highpass
        self.tone = net.tone
        self.noise_input = net.noise_input
        self.conv_first = _conv(net.conv_first)
        self.blocks = [[self._dense(rdb) for rdb in (rrdb.rdb1, rrdb.rdb2, rrdb.rdb3)]
                       for rrdb in net.body]
        self.conv_body = _conv(net.conv_body)
        self.conv_up = [_upsampling_conv(getattr(net, f"conv_up{i}"))
                        for i in range(1, net.upsamplings + 1)]
        self.conv_hr = _conv(net.conv_hr)
        self.conv_last = _conv(net.conv_last)

    @staticmethod
    def _dense(rdb: nn.Module) -> list[_Conv]:
        return [_conv(rdb.conv1), _conv(rdb.conv2), _conv(rdb.conv3), _conv(rdb.conv4),
                _conv(rdb.conv5, 0.2)]

    @staticmethod
    def _dense_block(convs: list[_Conv], x: torch.Tensor) -> torch.Tensor:
        x1 = convs[0](x, act=True)
        x2 = convs[1](torch.cat((x, x1), 1), act=True)
        x3 = convs[2](torch.cat((x, x1, x2), 1), act=True)
        x4 = convs[3](torch.cat((x, x1, x2, x3), 1), act=True)
        return convs[4].plus(torch.cat((x, x1, x2, x3, x4), 1), x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") \
            else x.dtype
        with torch.autocast("cpu", enabled=False):  # tone and noise level as the module's
            x, source = network_input(x, self.tone, self.noise_input)
            return self._forward(x.to(dtype).contiguous(memory_format=torch.channels_last),
                                 source)

    def _forward(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """``x`` in the compute dtype; ``source`` as given (autocast leaves the bicubic
        skip in the input's dtype, and so does this)."""
        height, width = x.shape[-2:]
        if self.unshuffle > 1:
            pad_h = -height % self.unshuffle
            pad_w = -width % self.unshuffle
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
            x = F.pixel_unshuffle(x, self.unshuffle).contiguous(
                memory_format=torch.channels_last)
        feat = self.conv_first(x)
        trunk = feat
        for rdbs in self.blocks:
            inner = trunk
            for convs in rdbs:
                inner = self._dense_block(convs, inner)
            trunk = torch.add(trunk, inner, alpha=0.2)
        feat = self.conv_body.plus(trunk, feat)
        for conv in self.conv_up:
            feat = _upsample_conv_act(conv, feat)
        out = self.conv_last(self.conv_hr(feat, act=True))
        out = out[..., : height * self.scale, : width * self.scale]
        return add_skip(out, source, self.skip, self.scale, self.highpass)
