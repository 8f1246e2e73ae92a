"""The self-check: is the network better than bicubic on this very image?

No ground truth exists at inference, but the image can judge the network on itself
(the internal test of ZSSR, used here as a judge, not for training): the measured LR is
degraded once more by the same operator — its ``scale``× smaller copy, the "son", given
the image's own noise — and the network enlarges the son back to the LR grid, where
the LR is the truth. The share ``alpha`` of the network's change to bicubic that best
explains the LR there (least squares, in [0, 1]) is how far the network can be trusted
on this kind of content: near 1 on content it knows (textures, edges), near 0 where it
paints texture onto smooth content (a fluorescence cell at 54 dB) or erases what is
real. The output is then ``bicubic + weight·(network − bicubic)`` before the
measurement-consistency projection.

The judge is reliable only on a clean scan. On a noisy one the son's content is
``scale``× finer than the image's own, and the network's denoising, which is what helps
most there, is judged at the wrong scale (it measured 0 on noisy X-ray tomography where
the network gains +1.9 dB). So the judgement is used in proportion to how clean the
scan is: fully below :data:`CLEAN_SIGMA` of noise, not at all above :data:`NOISY_SIGMA`
(``weight = alpha + (1 − alpha)·noise_share``). ``σ`` is the guard's estimate
(:func:`semsr_core.infer.consistency.noise_sigma`), which also reads strong, irregular
fine texture (grass, gravel) as noise — a clean lattice it reads clean: such textures
keep the network's output as it is. So does an image whose structure lies mostly beyond
what its son can show (:data:`MAX_FINE_SHARE`), and one too small to have a son of
:data:`MIN_SON_SIDE` pixels a side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from semsr_core.data.resample import upscale
from semsr_core.infer.consistency import SelfCheckFn, measure, noise_sigma
from semsr_core.infer.zssr import fine_structure_share

CLEAN_SIGMA = 0.03
"""Noise σ (network units) below which the self-check decides the weight fully."""
NOISY_SIGMA = 0.06
"""Noise σ above which the network's output is kept as it is."""
MAX_FINE_SHARE = 0.5
"""An image with more of its structure (above its noise) finer than its smaller copy can
show is kept as the network made it: its son does not have the content the network is
judged on (a lattice, a grating, single-molecule localisations: the check measured 0
on SMLM microtubules where the network gains +0.7 to +1.6 dB)."""
MIN_SON_SIDE = 8
"""The son needs this many pixels a side to judge anything; smaller images are kept."""
SEED = 0


@dataclass(frozen=True)
class SelfCheck:
    """What the self-check found on one slice."""

    weight: float               # share of the network's change kept (1: its output as is)
    alpha: float | None         # the son's verdict, None when it could not be made
    noise_share: float          # 0: clean, the verdict decides; 1: noisy, it is not used
    gain_db: float | None       # the network against bicubic on the son test (dB)
    reason: str

    def summary(self) -> dict[str, Any]:
        return {"weight": round(self.weight, 4),
                "alpha": None if self.alpha is None else round(self.alpha, 4),
                "noise_share": round(self.noise_share, 4),
                "son_gain_db": None if self.gain_db is None else round(self.gain_db, 3),
                "reason": self.reason}


def noise_share(sigma: float) -> float:
    """0 for a clean scan (σ ≤ CLEAN_SIGMA), 1 for a noisy one (σ ≥ NOISY_SIGMA)."""
    return float(np.clip((sigma - CLEAN_SIGMA) / (NOISY_SIGMA - CLEAN_SIGMA), 0.0, 1.0))


def son_of(lr: np.ndarray, scale: int, operator: str, sigma: float) -> np.ndarray:
    """The LR degraded once more by ``operator``, with the LR's own noise (fixed draw)."""
    son = measure(lr, scale, operator)
    if sigma > 0:
        son = son + sigma * np.random.default_rng(SEED).standard_normal(son.shape)
    return np.asarray(son, np.float32)


def _psnr_gain(truth: np.ndarray, ours: np.ndarray, bicubic: np.ndarray) -> float:
    ours_mse = float(np.mean((truth - ours) ** 2))
    bicubic_mse = float(np.mean((truth - bicubic) ** 2))
    return float(10 * np.log10(max(bicubic_mse, 1e-20) / max(ours_mse, 1e-20)))


def check(lr: np.ndarray, scale: int, operator: str,
          enlarge: Callable[[np.ndarray], np.ndarray], sigma: float | None = None
          ) -> SelfCheck:
    """The weight of the network's change on ``lr`` (network units, [0, 1]).

    ``enlarge`` runs the network on an image of the same units (``scale``× larger out);
    ``sigma`` is the LR's noise where the caller has measured it (:func:`noise_sigma`).
    """
    if sigma is None:
        sigma = noise_sigma(lr)
    share = noise_share(sigma)
    if share >= 1.0:
        return SelfCheck(1.0, None, share, None, "noisy scan: the network's output is kept")
    son_shape = (lr.shape[0] // scale, lr.shape[1] // scale)
    if min(son_shape) < MIN_SON_SIDE:  # before anything degrades it: it may have no son
        return SelfCheck(1.0, None, share, None,
                         f"too small to check (its ×{scale} smaller copy is "
                         f"{son_shape[0]}×{son_shape[1]} pixels)")
    fine = fine_structure_share(lr, scale)
    if fine > MAX_FINE_SHARE:
        return SelfCheck(1.0, None, share, None,
                         f"{100 * fine:.0f} % of its structure is finer than its ×{scale} "
                         "smaller copy can show: the network's output is kept")
    son = son_of(lr, scale, operator, sigma)
    predicted = np.asarray(enlarge(son), np.float32)
    h, w = min(predicted.shape[0], lr.shape[0]), min(predicted.shape[1], lr.shape[1])
    truth = lr[:h, :w]
    bicubic = upscale(son, scale, clip=False)[:h, :w]
    change = predicted[:h, :w] - bicubic
    energy = float(np.sum(change.astype(np.float64) ** 2))
    if energy <= 1e-12:
        return SelfCheck(1.0, 1.0, share, 0.0, "the network's output is bicubic's")
    alpha = float(np.clip(np.sum((truth - bicubic) * change, dtype=np.float64) / energy,
                          0.0, 1.0))
    weight = alpha + (1.0 - alpha) * share
    gain = _psnr_gain(truth, predicted[:h, :w], bicubic)
    return SelfCheck(weight, alpha, share, gain,
                     f"on this image's ×{scale} smaller copy the network was {gain:+.2f} dB "
                     f"against bicubic; {100 * weight:.0f} % of its change is kept")


def apply(lr: np.ndarray, sr: np.ndarray, scale: int, found: SelfCheck) -> np.ndarray:
    """``bicubic + weight·(sr − bicubic)`` (unchanged for weight 1)."""
    if found.weight >= 1.0:
        return sr
    bicubic = upscale(lr, scale, clip=False)
    return (bicubic + np.float32(found.weight) * (sr - bicubic)).astype(np.float32)


NOTE_BELOW = 0.95
"""A weight below this is told to the user (the output is partly bicubic)."""


def note_of(record: dict[str, Any] | None) -> str | None:
    """One sentence for a whole call from its guard record (``ConsistencyLog.record``):
    the slice where the least of the network's change was kept, when below
    :data:`NOTE_BELOW`; None otherwise."""
    slices = [(s["slice"], s["self_check"]) for s in (record or {}).get("slices", [])
              if s.get("self_check")]
    if not slices:
        return None
    index, least = min(slices, key=lambda item: item[1]["weight"])
    if least["weight"] >= NOTE_BELOW:
        return None
    where = f" (slice {index})" if len(slices) > 1 else ""
    return f"Self-check{where}: {_rest_is_bicubic(least['reason'])}."


def _rest_is_bicubic(reason: str) -> str:
    """The user's sentence for a weight below 1: what the check found, and what follows."""
    return f"{reason}; the rest is bicubic"


def for_network(enlarge: Callable[[np.ndarray], np.ndarray], scale: int,
                on_note: Callable[[str], None] | None = None) -> SelfCheckFn:
    """The consistency guard's ``self_check`` for a network that ``enlarge`` runs: given
    the LR, the network's output, the operator and the LR's noise σ, the output to
    project from and the check's summary. ``on_note`` is told, in a sentence, when part
    of the network's change was left out."""

    def checked(lr: np.ndarray, sr: np.ndarray, operator: str, sigma: float
                ) -> tuple[np.ndarray, dict[str, Any]]:
        found = check(lr, scale, operator, enlarge, sigma)
        if on_note is not None and found.weight < NOTE_BELOW:
            on_note(f"self-check: {_rest_is_bicubic(found.reason)} (--consistency off "
                    "keeps the model's output as it is)")
        return apply(lr, sr, scale, found), found.summary()

    return checked
