"""Radially averaged power spectra and the relative spectrum score of [S3] eq. 5.1.

The power spectrum says how much an image varies at each spatial frequency; lowering
the resolution removes the high frequencies first, so a super-resolved image should
bring their power back to the level of HR ([S3] §5.2). It is a statistic of the
whole image, not of pixel positions, so it also compares images that are not aligned.

Spectrum (:func:`radial_power_spectrum`): the image's mean is removed, it is
multiplied by a 2-D Hann window (so that the image border does not add a cross of
false high frequencies), Fourier transformed, and ``|F|² / Σw²`` is averaged over
rings of radius ``k`` (cycles per pixel; ring width ``1/N`` with ``N`` the shorter
side) for ``k = 1/N … 1/2`` (the zero frequency is left out: the mean was removed).

Score (:func:`spectrum_score`), [S3] eq. 5.1::

    s = 1 − MSE(P_hr, P_sr) / MSE(P_hr, P_lr↑)

1 is HR's spectrum exactly, 0 is no closer than LR↑, below 0 farther than LR↑.
Two decisions, where semsr departs from [S3]:

* **Log spectra.** [S3] takes the MSE of the linear spectra (its baseline MSE is
  6.3·10¹³). Spectra of SEM images fall by orders of magnitude from low to high
  frequencies, so a linear MSE is decided by the few lowest-frequency rings, where
  LR↑ is already right, and hardly sees the high frequencies that SR is meant to
  restore. semsr compares ``log10 P`` (what [S3] plots), so every frequency band
  counts by its relative error. ``log=False`` gives [S3]'s linear score.
* **LR↑ is semsr's bicubic upscale** (:func:`semsr_core.data.resample.upscale`, the
  same LR↑ as the baseline everywhere in semsr) rather than [S3]'s nearest neighbour,
  whose blocky edges add false high-frequency power. With it the bicubic baseline
  scores exactly 0 and a model's score reads "share of bicubic's spectrum error
  removed". Pass a nearest-neighbour upscale as ``lr_up`` to follow [S3] exactly.

The score compares absolute power: a result with lower contrast than HR has a spectrum
lower at every frequency, which the score counts everywhere, even where the result is
closer to HR's *shape* than LR↑ is ([S3] §5.2 saw this with ESRGAN+). Read it with
PSNR/SSIM and the sharpness ratio, never alone.

Images of different sizes (unaligned pairs) are cropped to their common central
region before their spectra are compared, so that the rings are the same.
"""

from __future__ import annotations

import numpy as np

#: Power below this is treated as this before taking log10 (a perfectly flat band).
LOG_FLOOR = 1e-20


def radial_power_spectrum(image: np.ndarray, window: bool = True
                          ) -> tuple[np.ndarray, np.ndarray]:
    """The radially averaged power spectrum of a 2-D image.

    Returns ``(k, power)``: ring frequencies in cycles per pixel (``1/N, 2/N, … ≤
    1/2``, ``N`` the shorter side) and the mean power on each ring. ``window=False``
    skips the Hann window.
    """
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2 or min(array.shape) < 4:
        raise ValueError(f"a power spectrum needs a 2-D image of at least 4×4 pixels, not "
                         f"shape {array.shape}")
    h, w = array.shape
    if window:
        win = np.outer(np.hanning(h + 1)[:-1], np.hanning(w + 1)[:-1])  # periodic Hann
    else:
        win = np.ones_like(array)
    centred = array - (array * win).sum() / win.sum()
    power = np.abs(np.fft.fft2(centred * win)) ** 2 / (win ** 2).sum()
    n = min(h, w)
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij"))
    ring = np.rint(radius * n).astype(np.int64)
    rings = n // 2
    keep = (ring >= 1) & (ring <= rings)
    totals = np.bincount(ring[keep], weights=power[keep], minlength=rings + 1)[1:]
    counts = np.bincount(ring[keep], minlength=rings + 1)[1:]
    return np.arange(1, rings + 1) / n, totals / np.maximum(counts, 1)


def common_centre(*images: np.ndarray) -> list[np.ndarray]:
    """The images cropped to their common central region (the smallest height and width)."""
    h = min(np.shape(im)[0] for im in images)
    w = min(np.shape(im)[1] for im in images)
    out = []
    for im in images:
        top = (im.shape[0] - h) // 2
        left = (im.shape[1] - w) // 2
        out.append(np.asarray(im)[top:top + h, left:left + w])
    return out


def spectrum_error(p_ref: np.ndarray, p_other: np.ndarray, log: bool = True) -> float:
    """MSE between two spectra on the same rings (of ``log10`` power when ``log``)."""
    a, b = np.asarray(p_ref, dtype=np.float64), np.asarray(p_other, dtype=np.float64)
    if log:
        a, b = np.log10(np.maximum(a, LOG_FLOOR)), np.log10(np.maximum(b, LOG_FLOOR))
    return float(np.mean((a - b) ** 2))


def spectrum_score(hr: np.ndarray, sr: np.ndarray, lr_up: np.ndarray, log: bool = True) -> float:
    """Relative spectrum score ``s = 1 − MSE(P_hr, P_sr) / MSE(P_hr, P_lr↑)`` ([S3] eq. 5.1).

    ``hr``, ``sr`` and ``lr_up`` are 2-D images; they need not be aligned (different
    sizes are cropped to the common centre). ``nan`` when LR↑'s spectrum equals HR's
    (no room for improvement to measure). See the module text for ``log``.
    """
    hr, sr, lr_up = common_centre(hr, sr, lr_up)
    _, p_hr = radial_power_spectrum(hr)
    _, p_sr = radial_power_spectrum(sr)
    _, p_lr = radial_power_spectrum(lr_up)
    baseline = spectrum_error(p_hr, p_lr, log)
    if baseline == 0:
        return float("nan")
    return 1.0 - spectrum_error(p_hr, p_sr, log) / baseline
