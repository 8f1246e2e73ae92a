"""Upscaling an LR image to the HR grid (the "LR↑" of baselines, previews and pix2pix).

One definition for the whole engine, so that the bicubic baseline of evaluation,
the pix2pix input in training and at inference, the app's compare view and the
alignment of scan pairs (:func:`semsr_core.data.align.upscale`, unclipped) agree.
Torch's bicubic (a = −0.75, half-pixel centres) is used, clipped to [0, 1]:
:func:`upscale_tensor` on batched tensors (on their device, as training uses it),
:func:`upscale` on one 2-D array.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def upscale_tensor(images: torch.Tensor, scale: int | None = None, *,
                   shape: tuple[int, int] | None = None, clip: bool = True) -> torch.Tensor:
    """``images`` (N×C×h×w float tensor, on any device) upscaled bicubically by ``scale``
    or to ``shape``; clipped to [0, 1] unless ``clip=False``."""
    if shape is None:
        if scale is None:
            raise ValueError("give scale or shape")
        shape = (images.shape[-2] * scale, images.shape[-1] * scale)
    out = F.interpolate(images, size=tuple(shape), mode="bicubic", align_corners=False)
    return out.clamp(0.0, 1.0) if clip else out


def upscale(image: np.ndarray, scale: int | None = None, *, shape: tuple[int, int] | None = None,
            method: str = "bicubic", clip: bool = True) -> np.ndarray:
    """``image`` (2-D float in [0, 1]) upscaled by ``scale`` or to ``shape``.

    ``method``: ``"bicubic"`` (clipped to [0, 1] unless ``clip=False``, for intensities
    that may lie outside it, e.g. after percentile normalisation) or ``"nearest"``
    (pixel replication).
    """
    if shape is None:
        if scale is None:
            raise ValueError("give scale or shape")
        shape = (image.shape[-2] * scale, image.shape[-1] * scale)
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    if method == "nearest":
        out = F.interpolate(t, size=tuple(shape), mode="nearest")
    elif method == "bicubic":
        out = upscale_tensor(t, shape=shape, clip=clip)
    else:
        raise ValueError(f"unknown upscaling method {method!r}")
    return out[0, 0].numpy()
