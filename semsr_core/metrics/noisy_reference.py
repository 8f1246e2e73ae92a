"""Noisy references: an HR that is itself a noisy scan.

Scored against a noisy scan whose LR is its own block mean, a model that removes the
noise loses PSNR even where it is right (on clean images given such a reference the
truth itself scores below bicubic at ×2: ``benchmarks/noisy_reference.md``). One owner
for the limit and for what `semsr evaluate` says about it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: An HR whose noise estimate (the guard's, [0, 1] units) is above this is a noisy
#: reference: scored against it, a model that removes noise loses PSNR where it is right.
NOISY_REFERENCE_SIGMA = 0.03


def noisy_reference_note(pairs: Sequence[Any]) -> str | None:
    """What to say when the HR references of ``pairs`` (evaluated pairs with ``stem``,
    ``full_reference`` and ``hr["noise_sigma"]``) read noisy, or None."""
    scored = [p for p in pairs if p.full_reference]
    sigmas = {p.stem: p.hr.get("noise_sigma") or 0.0 for p in scored}
    noisy = sorted(stem for stem, sigma in sigmas.items() if sigma > NOISY_REFERENCE_SIGMA)
    if not noisy:
        return None
    named = ", ".join(noisy[:5]) + (f" and {len(noisy) - 5} more" if len(noisy) > 5 else "")
    return (f"{len(noisy)} of {len(scored)} HR references read noisy ({named}; noise "
            f"estimate up to σ {max(sigmas[s] for s in noisy):.3f} in [0, 1] units): PSNR and "
            "SSIM against a noisy scan penalise a model that removes the noise, even where "
            "it is right — on clean images given such a reference the truth itself scores "
            "below bicubic at ×2 (semsr's benchmarks/noisy_reference.md). Judge denoising "
            "by eye, or against references averaged from repeated scans.")


def denoising_cost_db(scale: int) -> float:
    """The most PSNR a perfect, noise-free result loses against a reference with white
    noise, relative to keeping the noise its block-mean LR still holds: −10·log10(1 −
    1/scale²) (1.25 dB at ×2, 0.28 dB at ×4; benchmarks/noisy_reference.md)."""
    return -10.0 * math.log10(1.0 - 1.0 / scale ** 2)
