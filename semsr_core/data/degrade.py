"""Degradations: how a low-resolution (LR) image is made from a high-resolution (HR) one.

Used when a lab has only HR scans (a training pair is made by degrading the HR), and by
the SEM simulator to make the LR scan of a simulated scene (SPEC §3.3).

Every degradation takes a float32 2-D image with values in [0, 1] and an integer scale
``s`` and returns a float32 image of shape exactly ``(H // s, W // s)``. An HR image
whose sides are not multiples of ``s`` is first cropped at the bottom/right to the
largest multiple, so that LR pixel ``(i, j)`` always covers HR pixels
``[s*i, s*i+s) × [s*j, s*j+s)``.

================  ==========================================================  =========
name              what it does                                                source
================  ==========================================================  =========
``bicubic``       antialiased bicubic downscale (as MATLAB/PIL ``imresize``)  [S2] [S4]
``crappify``      Gaussian blur σ=3 at HR scale, then bilinear downscale      [S3] 5.1.2
``area``          mean of each s×s block                                      [S3] 5.2.2
``sem-noise``     area downscale + Poisson shot noise at a dose + Gaussian    SEM physics
                  read noise + per-scan-line offset and horizontal jitter
================  ==========================================================  =========

Use :func:`degrade` to pick one by name (the name used in configs and on the command line).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from semsr_core.arguments import check_kwargs
from semsr_core.errors import ConfigError, InputError

#: Blur of the "crappify" degradation, in HR pixels ([S3] 5.1.2).
CRAPPIFY_SIGMA = 3.0


def _checked(hr: np.ndarray, s: int) -> np.ndarray:
    """The HR image as float32, cropped to a multiple of ``s``; refuses unusable input."""
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
        raise ConfigError(f"scale must be a positive integer, got {s!r}",
                          hint="Use a scale such as 2 or 4.")
    hr = np.asarray(hr)
    if hr.ndim != 2:
        raise InputError(f"a degradation needs one 2-D grayscale image, got shape {hr.shape}",
                         hint="Pass a single slice (Y, X) of the stack.")
    h, w = (hr.shape[0] // s) * s, (hr.shape[1] // s) * s
    if h == 0 or w == 0:
        raise InputError(f"image of shape {hr.shape} is smaller than the scale {s}",
                         hint="Use a larger image or a smaller scale.")
    return hr[:h, :w].astype(np.float32, copy=False)


def _resize_pil(img: np.ndarray, shape: tuple[int, int], method: str) -> np.ndarray:
    """Resize a float32 image with Pillow's antialiased resampling filters."""
    from PIL import Image

    resample = {"bicubic": Image.Resampling.BICUBIC,
                "bilinear": Image.Resampling.BILINEAR}[method]
    out = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32), mode="F").resize(
        (shape[1], shape[0]), resample=resample)
    return np.asarray(out, dtype=np.float32)


def area(hr: np.ndarray, s: int) -> np.ndarray:
    """Mean of each ``s``×``s`` block: what a detector integrating over a big pixel records."""
    img = _checked(hr, s)
    h, w = img.shape
    return img.reshape(h // s, s, w // s, s).mean(axis=(1, 3), dtype=np.float64).astype(
        np.float32)


def bicubic(hr: np.ndarray, s: int, *, clip: bool = True) -> np.ndarray:
    """Antialiased bicubic downscale by ``s`` (the classic SR benchmark degradation),
    clipped to [0, 1] unless ``clip=False`` (values in other units)."""
    img = _checked(hr, s)
    out = _resize_pil(img, (img.shape[0] // s, img.shape[1] // s), "bicubic")
    return np.clip(out, 0.0, 1.0) if clip else out


def crappify(hr: np.ndarray, s: int) -> np.ndarray:
    """Gaussian blur σ=3 (HR pixels), then bilinear downscale by ``s`` ([S3] 5.1.2)."""
    img = _checked(hr, s)
    blurred = ndimage.gaussian_filter(img, CRAPPIFY_SIGMA, mode="reflect")
    return _resize_pil(blurred, (img.shape[0] // s, img.shape[1] // s), "bilinear")


def sem_noise(hr: np.ndarray, s: int, *, dose: float = 40.0, read_noise: float = 0.01,
              line_offset: float = 0.01, line_jitter: float = 0.15, drift: float = 0.0,
              rng: np.random.Generator | int | None = None) -> np.ndarray:
    """A fast, low-dose SEM scan of the HR scene.

    The HR image is averaged over each ``s``×``s`` block (the big LR pixel), then
    observed the way a scanning detector sees it:

    - ``dose``: mean number of detected electrons per LR pixel at full brightness (1.0);
      each pixel's count is Poisson distributed, so lower doses are grainier.
    - ``read_noise``: standard deviation of additive Gaussian detector noise (in [0, 1]
      intensity units).
    - ``line_offset``: standard deviation of a brightness offset shared by each scan line.
    - ``line_jitter``: standard deviation (in LR pixels) of a horizontal shift of each
      scan line (beam position jitter).
    - ``drift``: largest horizontal displacement (in LR pixels) of a slow wander of the
      scan lines over the frame (stage/beam drift during the scan).

    ``rng`` is a numpy Generator or a seed; the result is clipped to [0, 1].
    """
    if not dose > 0:
        raise ConfigError(f"sem-noise: dose must be > 0 electrons per pixel, got {dose!r}",
                          hint="Use e.g. dose=40 for a fast scan, 500 for a slow one.")
    for key, value in (("read_noise", read_noise), ("line_offset", line_offset),
                       ("line_jitter", line_jitter), ("drift", drift)):
        if not value >= 0:
            raise ConfigError(f"sem-noise: {key} must be >= 0, got {value!r}")
    rng = np.random.default_rng(rng)
    lr = area(hr, s)
    return observe(lr, dose=dose, read_noise=read_noise, line_offset=line_offset,
                   line_jitter=line_jitter, drift=drift, rng=rng)


def observe(signal: np.ndarray, *, dose: float, read_noise: float, line_offset: float,
            line_jitter: float, drift: float = 0.0,
            rng: np.random.Generator) -> np.ndarray:
    """Detector noise of one scan of a noise-free ``signal`` at the image's own pixel size.

    Shot noise (Poisson counts at ``dose`` electrons for intensity 1), Gaussian read
    noise, per-line brightness offset, and a horizontal shift of each line (white
    ``line_jitter`` plus a slow ``drift``), all in the image's pixels: the shifts move
    where each line was sampled, the noise is then added.
    """
    img = np.clip(np.asarray(signal, dtype=np.float32), 0.0, 1.0)
    h, w = img.shape
    if line_jitter > 0 or drift > 0:
        shift = rng.normal(0.0, line_jitter, size=(h, 1)).astype(np.float32)
        if drift > 0:
            wander = ndimage.gaussian_filter1d(rng.standard_normal(h), max(h / 8, 1.0))
            shift += (drift * wander / max(np.abs(wander).max(), 1e-9))[:, None].astype(
                np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = ndimage.map_coordinates(img, [yy, xx + shift], order=1, mode="nearest")
    counts = rng.poisson(img.astype(np.float64) * dose)
    out = (counts / dose).astype(np.float32)
    if read_noise > 0:
        out += rng.normal(0.0, read_noise, size=out.shape).astype(np.float32)
    if line_offset > 0:
        out += rng.normal(0.0, line_offset, size=(h, 1)).astype(np.float32)
    return np.clip(out, 0.0, 1.0)


#: Degradation name (as used in configs and on the command line) -> function(hr, s, ...).
DEGRADATIONS: dict[str, Callable[..., np.ndarray]] = {
    "bicubic": bicubic,
    "crappify": crappify,
    "area": area,
    "sem-noise": sem_noise,
}

#: Degradations that draw random numbers (and so take ``rng``).
RANDOM_DEGRADATIONS = frozenset({"sem-noise"})


def degrade(name: str, hr: np.ndarray, s: int, *,
            rng: np.random.Generator | int | None = None, **params) -> np.ndarray:
    """Make the LR image of ``hr`` at scale ``s`` with the degradation called ``name``.

    ``params`` are that degradation's options (e.g. ``dose=20`` for ``sem-noise``);
    an option the degradation does not have is an error naming it.
    """
    if name not in DEGRADATIONS:
        raise ConfigError(f"unknown degradation {name!r}",
                          hint=f"Choose one of: {', '.join(DEGRADATIONS)}.")
    func = DEGRADATIONS[name]
    check_kwargs(func, params, what=f"degradation {name!r}", ignore=("hr", "s", "rng"))
    if name in RANDOM_DEGRADATIONS:
        params["rng"] = rng
    return func(hr, s, **params)
