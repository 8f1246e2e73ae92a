"""Measurement consistency: a super-resolved image must agree with what was measured.

Degrading the SR output the way the scan was made must give back the measured LR,
within the scan's noise. Two things follow from that, both on by default:

- **The guard** (:func:`check_and_project`): the output is projected onto that
  constraint by iterative back-projection (Irani & Peleg), aware of the noise: the
  residual ``LR − D(SR)`` is split into a low band (Gaussian, 1–3 LR pixels wide,
  wider for noisier scans), which is always put back — brightness, blobs and lattice
  sites the network moved or invented —, and the rest, of which only what stands above
  the noise is put back: periodic structure measured above the noise in the Fourier
  domain (a lattice the network took for noise, :mod:`semsr_core.infer.coherent`), and,
  pixel by pixel, the part beyond ``NOISE_FACTOR``·σ (soft-thresholded, σ estimated
  from the LR's flattest parts). Each step is enlarged with bicubic and added, a few
  times; for the block-mean operator a last exact step evens each block's mean. A clean
  flat-field scan comes back exactly; in a noisy one the fine noise is not painted back.
- **The disagreement map**: per LR pixel, how far the network's own output departed
  from the measurement beyond the noise (and beyond ``MAP_FLOOR`` of the range), pixel
  by pixel or as periodic structure measured above the noise, with its summary (share
  of pixels, worst departure, the largest regions). A large share warns the user: the
  model changed what the scan measured there.

``D`` is one of :data:`OPERATORS` — the degradations semsr trains with (block mean,
antialiased bicubic, blur + decimation): the model card's ``training.measurement``,
or ``auto``, which picks per slice the operator that best explains the LR from the
network's output. Everything runs in network units ([0, 1] by the intensity policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from semsr_core.archs.noise_level import noise_sigma as estimate_noise
from semsr_core.data import degrade
from semsr_core.data.resample import upscale
from semsr_core.errors import ConfigError
from semsr_core.infer.coherent import find_periodic

OPERATORS = ("area", "bicubic", "crappify")
CHOICES = ("auto", *OPERATORS, "off")
NOISE_FACTOR = 3.0
"""Residuals within this many noise standard deviations are taken as noise."""
MAP_FLOOR = 0.03
"""Departures below this share of the intensity range never count as disagreement."""
WARN_FRACTION = 0.01
"""A slice where more than this share of LR pixels disagree gets a warning."""
ITERATIONS = 6


def check_choice(choice: str) -> str:
    if choice not in CHOICES:
        raise ConfigError(f"consistency '{choice}' is not known",
                          hint=f"Use --consistency with one of: {', '.join(CHOICES)}.")
    return choice


def measure(sr: np.ndarray, scale: int, operator: str) -> np.ndarray:
    """``sr`` as the scan would have measured it, on the LR grid (unclipped)."""
    if operator == "area":
        return degrade.area(sr, scale)
    if operator == "bicubic":
        return degrade.bicubic(sr, scale, clip=False)
    if operator == "crappify":
        return degrade.crappify(sr, scale)
    raise ConfigError(f"measurement operator '{operator}' is not known",
                      hint=f"Use one of: {', '.join(OPERATORS)}.")


def noise_sigma(lr: np.ndarray, block: int = 8) -> float:
    """Robust standard deviation of the LR's noise, from its flattest parts
    (:func:`semsr_core.archs.noise_level.noise_sigma`, in float64)."""
    return float(estimate_noise(torch.from_numpy(np.ascontiguousarray(lr, np.float64)), block))


def low_band_width(sigma: float) -> float:
    """Gaussian width (LR pixels) of the residual's low band, which is always projected:
    1 px for a clean scan, wider as the noise grows (less noise is put back)."""
    return float(np.clip(1.0 + 20.0 * sigma, 1.0, 3.0))


def _shrink(residual: np.ndarray, threshold: float) -> np.ndarray:
    return np.sign(residual) * np.maximum(np.abs(residual) - threshold, 0.0)


@dataclass
class Consistency:
    """What the check found on one slice (network units, LR grid)."""

    operator: str
    sigma: float
    departure: np.ndarray = field(repr=False)  # |LR − D(raw SR)| beyond noise and floor
    fraction: float
    worst: float
    regions: list[tuple[int, int, int, int]]   # (top, left, bottom, right), LR pixels
    projected: bool
    residual_after: float                      # RMS of LR − D(SR) after the guard

    def summary(self, scale: int) -> dict[str, Any]:
        """JSON-ready, with regions in output (SR) pixels."""
        return {"operator": self.operator, "noise_sigma": round(self.sigma, 5),
                "disagreeing_fraction": round(self.fraction, 5),
                "worst_departure": round(self.worst, 4), "projected": self.projected,
                "rms_residual_after": round(self.residual_after, 5),
                "regions_sr_px": [[v * scale for v in box] for box in self.regions]}

    def warning(self, scale: int, where: str = "") -> str | None:
        """The user's warning when much of the slice disagrees, naming the regions."""
        if self.fraction <= WARN_FRACTION:
            return None
        boxes = "; ".join(f"rows {top * scale}–{bottom * scale}, columns "
                          f"{left * scale}–{right * scale}"
                          for top, left, bottom, right in self.regions[:3])
        action = ("the output was projected back onto the measurement there" if
                  self.projected else "use --consistency auto to project it back")
        return (f"{where}the model changed what the scan measured in "
                f"{100 * self.fraction:.1f} % of the image (worst {self.worst:.3f} of the "
                f"range), mostly at {boxes}; {action}")


def _regions(mask: np.ndarray, count: int = 5) -> list[tuple[int, int, int, int]]:
    if not mask.any():
        return []
    labels, n = ndimage.label(ndimage.binary_dilation(mask, iterations=2))
    sizes = ndimage.sum(mask, labels, index=np.arange(1, n + 1))
    boxes = ndimage.find_objects(labels)
    order = np.argsort(sizes)[::-1][:count]
    return [(boxes[i][0].start, boxes[i][1].start, boxes[i][0].stop, boxes[i][1].stop)
            for i in order]


SelfCheckFn = Callable[[np.ndarray, np.ndarray, str, float],
                       tuple[np.ndarray, dict[str, Any]]]
"""(LR, network output, operator, the LR's noise σ) → (the output to project from, its
summary)."""

AUTO_OPERATORS = ("area", "bicubic")
"""What ``auto`` chooses from: the sharp measurements. Blur + decimation explains any
over-smoothed output well, so it is used only when a card or the user names it."""


def choose_operator(lr: np.ndarray, sr: np.ndarray, scale: int) -> str:
    """The operator under which the SR best explains the LR (smallest RMS residual)."""
    errors = {op: float(np.mean((lr - measure(sr, scale, op)) ** 2)) for op in AUTO_OPERATORS}
    return min(errors, key=errors.get)


def check_and_project(lr: np.ndarray, sr: np.ndarray, scale: int, *, operator: str = "auto",
                      project: bool = True, start: np.ndarray | None = None,
                      sigma: float | None = None) -> tuple[np.ndarray, Consistency]:
    """Check ``sr`` (network units, ``scale``× ``lr``) against ``lr`` and, with
    ``project``, return it projected onto the measurement within the noise. The check
    and its map are of ``sr``; the projection starts from ``start`` where given (the
    self-check's blend of ``sr`` with bicubic). ``sigma``: the LR's noise, where the
    caller has measured it already (:func:`noise_sigma`)."""
    lr = np.asarray(lr, np.float32)
    sr = np.asarray(sr, np.float32)
    if sr.shape != (lr.shape[0] * scale, lr.shape[1] * scale):
        raise ValueError(f"SR of shape {sr.shape} is not ×{scale} the LR's {lr.shape}")
    if operator == "auto":
        operator = choose_operator(lr, sr, scale)
    if sigma is None:
        sigma = noise_sigma(lr)
    threshold, width = NOISE_FACTOR * sigma, low_band_width(sigma)
    residual = lr - measure(sr, scale, operator)
    # which frequencies hold periodic structure the network changed: decided once, on
    # its own output, then put back by every step of the projection
    high = residual - ndimage.gaussian_filter(residual, width, mode="nearest")
    structure = find_periodic(high, width)
    periodic = structure.part(high)
    departure = np.maximum(np.maximum(np.abs(residual) - max(threshold, MAP_FLOOR),
                                      np.abs(periodic) - MAP_FLOOR), 0.0)
    flagged = departure > 0
    out = sr
    if project:

        def step_of(image: np.ndarray) -> np.ndarray:
            """What to put back: the residual's low band, its periodic structure above
            the noise, and the rest of its fine part beyond the noise, pixel by pixel."""
            now = lr - measure(image, scale, operator)
            low = ndimage.gaussian_filter(now, width, mode="nearest")
            periodic = structure.part(now - low)
            return (low + periodic + _shrink(now - low - periodic, threshold)
                    ).astype(np.float32)

        out = (sr if start is None else start).astype(np.float64)
        for _ in range(ITERATIONS):
            out = out + upscale(step_of(out), scale, clip=False)
        if operator == "area":  # block mean: make each block's mean equal at once
            out = out + np.repeat(np.repeat(step_of(out), scale, axis=0), scale, axis=1)
        out = out.astype(np.float32)
    after = lr - measure(out, scale, operator)
    return out, Consistency(operator, sigma, departure.astype(np.float32),
                            float(flagged.mean()), float(departure.max(initial=0.0)),
                            _regions(flagged), project,
                            float(np.sqrt(np.mean(after.astype(np.float64) ** 2))))


@dataclass
class ConsistencyLog:
    """The guard of one super-resolve call: its setting and what it found per slice.

    choice: an operator of :data:`OPERATORS`, ``auto``, ``model`` or ``off`` (check and
        map only, the output is left as the network made it). ``model`` is the card's
        ``training.measurement``: the bundled models name one; a model without it — one
        trained on a lab's own pairs, which may change contrast on purpose (a style
        gap), or an imported one — gets ``off``, and its disagreement is mapped without
        a warning.
    keep_maps: keep each slice's disagreement map (LR grid) in ``maps``, e.g. for a
        napari layer; off by default so that a long stack stays in bounded memory.
    ``record`` is the JSON-ready summary that goes into the output's metadata; it is
    updated in place slice by slice.
    """

    choice: str = "model"
    keep_maps: bool = False
    warn: bool = True
    maps: list[np.ndarray] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)

    def resolve(self, card_measurement: str | None) -> None:
        """Fix the setting for a model whose card names ``card_measurement``."""
        if self.choice == "model":
            self.choice = card_measurement or "off"
            self.warn = card_measurement is not None
        check_choice(self.choice)
        self.record.update(setting=self.choice, slices=[], disagreeing_fraction_max=0.0)

    def apply(self, lr: np.ndarray, sr: np.ndarray, scale: int, index: int,
              slices: int, self_check: SelfCheckFn | None = None
              ) -> tuple[np.ndarray, str | None]:
        """The slice's output (projected unless ``off``) and its warning, if any.

        ``self_check`` (where the network can be run again): given the LR, the network's
        output, the operator and the LR's noise σ, the output to project from and its
        JSON-ready summary (:mod:`semsr_core.infer.self_check`); used only when projecting.
        """
        project = self.choice != "off"
        operator = self.choice if project else "auto"
        start, checked, sigma = None, None, None
        if project and self_check is not None:
            if operator == "auto":
                operator = choose_operator(lr, sr, scale)
            sigma = noise_sigma(lr)  # once for the slice: the check and the projection
            start, checked = self_check(lr, sr, operator, sigma)
        out, found = check_and_project(lr, sr, scale, operator=operator, project=project,
                                       start=start, sigma=sigma)
        summary = found.summary(scale)
        if checked is not None:
            summary["self_check"] = checked
        if len(self.record["slices"]) < 1000:  # bounded, even for very long stacks
            self.record["slices"].append({"slice": index, **summary})
        self.record["disagreeing_fraction_max"] = max(self.record["disagreeing_fraction_max"],
                                                      summary["disagreeing_fraction"])
        if self.keep_maps:
            self.maps.append(found.departure)
        if not self.warn:
            return out, None
        return out, found.warning(scale, f"slice {index}: " if slices > 1 else "")
