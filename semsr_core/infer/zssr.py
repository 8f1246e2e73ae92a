"""ZSSR: train a small network on the image itself, then super-resolve it ([S1] §3.1).

Zero-shot super-resolution learns from the one image it is asked to enlarge:
*HR fathers* are crops of the image and of downscaled copies of it (picked with
probability proportional to the copy's size, rotated by multiples of 90° and
mirrored); each father's *LR son* is the father shrunk by the scale factor. The network
learns son → father with an L1 loss and Adam (learning rate 1e-3). Every
``check_every`` iterations a straight line is fitted to the recent reconstruction
error of the whole image (the image shrunk by the scale, super-resolved, compared with
the image); when the fit shows no reliable decrease — the standard deviation of its
slope exceeds ``slope_factor`` × the decrease per iteration, as in the original ZSSR code
— the learning rate is divided by 10. Training stops below ``min_learning_rate`` or
after ``max_iterations``. Not included from the original ZSSR: gradual
super-resolution in several steps and back-projection.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semsr_core.arguments import check_kwargs
from semsr_core.errors import ConfigError, InputError
from semsr_core.events import (
    CancelToken,
    EventCallback,
    Message,
    Progress,
    check_cancel,
    emit,
)
from semsr_core.infer.consistency import noise_sigma
from semsr_core.infer.network import arch_facts

STAGE = "zssr training"


@dataclass(frozen=True)
class ZSSRSettings:
    """How ZSSR trains on each image (defaults from [S1] §3.1 and the ZSSR paper's code).

    crop: side of the HR-father crops (smaller for small images).
    father_scales: downscaled copies of the image used as fathers (1.0 = the image).
    learning_rate / min_learning_rate: Adam's start; training stops below the minimum.
    max_iterations: hard cap on training iterations.
    check_every: iterations between learning-rate checks.
    fit_window: iterations of recent reconstruction error the line is fitted to.
    min_iterations_per_rate: iterations a learning rate is kept at least.
    slope_factor: the rate is divided by 10 when std(slope) > slope_factor · (−slope).
    record_every: iterations between reconstruction-error measurements.
    self_ensemble: super-resolve the 8 rotations/mirrors and take their median.
    seed: random seed of crops and weight updates (same image + seed → same result).
    max_seconds: wall-clock bound of the training (0: none); progress then counts seconds.
    match_noise: give each LR son the noise the image itself has (σ estimated from its
        flattest parts; nothing for a clean image), as the ZSSR paper does for noisy
        inputs: the network then learns from inputs as noisy as the one it will enlarge,
        and its noisy targets average out instead of teaching it to paint noise.
    holdout: share of the image's width (its right-hand band) kept out of training to
        judge the result (0: none). Used to adapt a trained model: when the adapted
        network does not reconstruct the held-out band better than the model did before,
        the model is used as it was.
    max_fine_share: refuse to learn from an image whose structure lies mostly (more than
        this share of its spectral energy above the noise) at frequencies its ×scale
        smaller copy cannot hold — fine gratings and lattices: there the copies teach
        aliasing, not structure (measured: −2 to −13.6 dB against the model on gratings).
        The model is then used as it was (0: no check). Used to adapt a trained model.
    """

    crop: int = 128
    father_scales: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-6
    max_iterations: int = 3000
    check_every: int = 60
    fit_window: int = 256
    min_iterations_per_rate: int = 256
    slope_factor: float = 1.5
    record_every: int = 10
    self_ensemble: bool = True
    seed: int = 0
    max_seconds: float = 0.0
    match_noise: bool = True
    holdout: float = 0.0
    max_fine_share: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ZSSRSettings:
        """Settings from a config/card table; unknown or ill-typed keys name the key."""
        data = dict(data or {})
        check_kwargs(cls, data, what="zssr")
        values: dict[str, Any] = {}
        for key, value in data.items():
            default = getattr(cls, key)
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                least = 0 if key == "seed" else 1
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
            elif isinstance(default, float):
                ok = (isinstance(value, int | float) and not isinstance(value, bool)
                      and (value >= 0 if key in ("max_seconds", "holdout", "max_fine_share")
                           else value > 0)
                      and (value < 1 if key == "holdout" else True)
                      and (value <= 1 if key == "max_fine_share" else True))  # 0: none
            else:  # father_scales
                ok = (isinstance(value, list | tuple) and len(value) > 0
                      and all(isinstance(v, int | float) and 0 < v <= 1 for v in value))
                value = tuple(float(v) for v in value) if ok else value
            if not ok:
                raise ConfigError(f"zssr: '{key}' has the invalid value {value!r}",
                                  hint=f"Use a value like the default {default!r}.")
            values[key] = value
        settings = cls(**values)
        if settings.min_learning_rate >= settings.learning_rate:
            raise ConfigError("zssr: 'min_learning_rate' must be below 'learning_rate'",
                              hint="e.g. learning_rate = 1e-3, min_learning_rate = 1e-6.")
        return settings

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["father_scales"] = list(self.father_scales)
        return data


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of an (N, C, H, W) tensor, anti-aliased when shrinking."""
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def _fathers(image: torch.Tensor, scale: int, settings: ZSSRSettings) -> list[torch.Tensor]:
    """The image and its downscaled copies, each cropped to a multiple of ``scale``."""
    height, width = image.shape[-2:]
    fathers = []
    for factor in settings.father_scales:
        size = (round(height * factor), round(width * factor))
        h, w = size[0] // scale * scale, size[1] // scale * scale
        if min(h, w) < 2 * scale:
            continue
        copy_ = image if factor == 1.0 else _resize(image, size)
        fathers.append(copy_[..., :h, :w])
    return fathers


def minimum_side(scale: int) -> int:
    """Smallest image side ZSSR can learn from at this scale (the son must be ≥ 2 pixels)."""
    return 2 * scale


def adaptation_settings(seconds: float) -> ZSSRSettings:
    """ZSSR's per-image training as a bounded fine-tuning of a trained model ("adapt to
    this image"): a learning rate 10× below ZSSR's own, no self-ensemble, ``seconds``
    of wall-clock time at most, and a fifth of the image held out to judge it (the model
    is kept as it was where adapting does not help there)."""
    return ZSSRSettings(learning_rate=1e-4, min_learning_rate=1e-7, max_iterations=10**6,
                        crop=96, self_ensemble=False, max_seconds=float(seconds),
                        holdout=0.2, max_fine_share=0.75)


NOT_ADAPTABLE = (
    "not adapted to this image: {name} names no measurement in its card (it was trained "
    "on pairs whose LR and HR may differ in contrast, like a lab's own model with its tone "
    "curve), and the image's own smaller copies, all in the scan's contrast, would unteach "
    "that; the model is used as it was")
"""Adaptation ("adapt to this image") learns from the image's own ×s smaller copies,
which share the scan's contrast: it fits only a model trained to keep that contrast,
whose card names the measurement (``training.measurement``, as the bundled models'
cards do). Measured on a lab's fine-tuned model (`benchmarks/lab_workflow.notes.md`,
session 17): adapting it for 20 s took its gain over bicubic from +2.57 to +0.16 dB."""


def adaptable(arch: str, measurement: str | None) -> bool:
    """Whether "adapt to this image" fits a model of ``arch`` whose card names
    ``measurement`` (``training.measurement``): a network that enlarges the LR itself,
    trained to keep the scan's contrast (see :data:`NOT_ADAPTABLE`). The Super-resolve
    panel offers the option only where this holds."""
    return measurement is not None and not arch_facts(arch).input_at_output_size


PER_IMAGE_NAME = "zssr"
"""The model name that means "ZSSR trained on each image" (``--model zssr``, the panel's
"ZSSR (trains on this image)"): no file, a fresh network for every image."""


def is_per_image(card: Any) -> bool:
    """Whether a model card is a ZSSR network trained on each image at inference time
    (``semsr train zssr`` records ``zssr_per_image = False``: trained on a dataset)."""
    return card.arch == "zssr" and card.training.get("zssr_per_image", True)


def per_image_model(scale: int, settings: ZSSRSettings | dict[str, Any] | None = None):
    """A fresh ZSSR network (8 × 64-channel convolutions, [S1] §3.1) named ``zssr`` that
    :func:`semsr_core.infer.super_resolve` trains on each image with ``settings``
    (recorded in its card's ``training["zssr"]``, so any caller of the engine gets them).
    Seeded by ``settings.seed``: the same image and settings give the same result."""
    from semsr_core.models import Model

    if not isinstance(settings, ZSSRSettings):
        settings = ZSSRSettings.from_dict(settings)
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ConfigError(f"zssr: the scale {scale!r} is not a whole number of at least 1",
                          hint="Give --scale 2, 3, 4, ...")
    torch.manual_seed(settings.seed)
    model = Model.create("zssr", scale=scale, name=PER_IMAGE_NAME)
    model.card.description = "ZSSR: trained on each image it enlarges ([S1] §3.1)"
    model.card.training = {"zssr_per_image": True, "zssr": settings.to_dict()}
    return model


def train_zssr(image: np.ndarray, generator: nn.Module, *, scale: int,
               device: torch.device, settings: ZSSRSettings | None = None,
               on_event: EventCallback | None = None,
               cancel: CancelToken | None = None) -> nn.Module:
    """Train a copy of ``generator`` (a ZSSR network that upsamples by ``scale``) on ``image``.

    ``image`` is 2-D float32 in the network's value range. Returns the trained copy in
    evaluation mode on ``device``; ``generator`` itself is not changed. Progress events
    (stage ``"zssr training"``) report iterations; ``cancel`` is checked every iteration.
    """
    settings = settings or ZSSRSettings()
    if min(image.shape) < minimum_side(scale):
        raise InputError(f"the image is {image.shape[0]}×{image.shape[1]} pixels; ZSSR at "
                         f"×{scale} needs at least {minimum_side(scale)} pixels a side",
                         hint="Use a larger image or another model.")
    if settings.max_fine_share > 0:
        share = fine_structure_share(image, scale)
        if share > settings.max_fine_share:
            emit(on_event, Message(
                f"not adapted to this image: {100 * share:.0f} % of its structure is finer "
                f"than its ×{scale} smaller copy can show (a fine grating or lattice), so "
                "the image cannot teach itself; the model is used as it was",
                level="warning"))
            return _unchanged(generator, device)
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    net = copy.deepcopy(generator).to(device).train()
    net.requires_grad_(True)
    full = torch.from_numpy(np.ascontiguousarray(image, np.float32))[None, None].to(device)
    sigma = noise_sigma(image) if settings.match_noise else 0.0
    training_part, held_out = _split_holdout(full, scale, settings)
    fathers = _fathers(training_part, scale, settings)
    areas = np.array([f.shape[-1] * f.shape[-2] for f in fathers], dtype=np.float64)
    probabilities = areas / areas.sum()
    probe = _reconstruction_probe(training_part, scale)
    before = (None if held_out is None
              else _held_out_error(generator, held_out, scale, sigma, device, settings.seed))
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    lr = settings.learning_rate
    last_change = 0
    steps: list[int] = []
    errors: list[float] = []
    timed = settings.max_seconds > 0
    total = math.ceil(settings.max_seconds) if timed else settings.max_iterations
    unit = "s" if timed else "it"
    emit(on_event, Progress(stage=STAGE, done=0, total=total, unit=unit))
    started = time.monotonic()
    for iteration in range(1, settings.max_iterations + 1):
        check_cancel(cancel)
        elapsed = time.monotonic() - started
        if timed and elapsed >= settings.max_seconds:
            emit(on_event, Progress(stage=STAGE, done=total, total=total, unit="s",
                                    postfix=f"time bound reached after {iteration - 1} "
                                            "iterations"))
            break
        father = fathers[rng.choice(len(fathers), p=probabilities)]
        target = _random_crop(father, settings.crop, scale, rng)
        target = _random_orientation(target, rng)
        son = _resize(target, (target.shape[-2] // scale, target.shape[-1] // scale))
        if sigma > 0:
            son = son + sigma * torch.randn_like(son)
        loss = F.l1_loss(net(son), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if iteration % settings.record_every == 0:
            steps.append(iteration)
            errors.append(_reconstruction_error(net, probe, scale))
        if (iteration % settings.check_every == 0
                and iteration - last_change > settings.min_iterations_per_rate
                and _loss_is_flat(steps, errors, settings)):
            lr /= 10.0
            last_change = iteration
            for group in optimizer.param_groups:
                group["lr"] = lr
        emit(on_event, Progress(stage=STAGE, done=min(int(elapsed), total) if timed
                                else iteration, total=total, unit=unit,
                                postfix=f"lr {lr:.0e}, L1 {loss.item():.4f}"))
        if lr < settings.min_learning_rate:
            emit(on_event, Progress(stage=STAGE, done=total, total=total, unit=unit,
                                    postfix=f"converged after {iteration} iterations"))
            break
    net.eval()
    net.requires_grad_(False)
    if before is not None:
        after = _held_out_error(net, held_out, scale, sigma, device, settings.seed)
        if not after < before:
            emit(on_event, Message(
                f"adapting to this image did not help on the {100 * settings.holdout:.0f} % "
                f"of it held out to judge it (error {after:.4g} against {before:.4g} "
                "before): the model is used as it was", level="warning"))
            return _unchanged(generator, device)
    return net


def _unchanged(generator: nn.Module, device: torch.device) -> nn.Module:
    original = copy.deepcopy(generator).to(device).eval()
    original.requires_grad_(False)
    return original


def fine_structure_share(image: np.ndarray, scale: int) -> float:
    """Share of the image's spectral energy (above its noise floor) at frequencies beyond
    what a ``scale``× smaller copy can hold (above 1/(2·scale) cycles per pixel).

    The noise floor per frequency is the median power of the highest frequencies
    (white noise is flat there; a grating's few peaks do not move a median). Natural
    images, noisy or not, read 0.1–0.66 at ×4 on the out-of-domain benchmark; its fine
    gratings and lattices 0.84–1.0.
    """
    x = np.asarray(image, np.float64)
    x = x - x.mean()
    power = np.abs(np.fft.fft2(x)) ** 2
    fy = np.abs(np.fft.fftfreq(x.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(x.shape[1]))[None, :]
    radius = np.maximum(fy, fx)
    floor = float(np.median(power[radius >= 0.4]))
    fine = radius > 0.5 / scale
    fine_energy = max(float(power[fine].sum()) - fine.sum() * floor, 0.0)
    total = float(power.sum()) - (power.size - 1) * floor
    if total <= 0:
        return 0.0
    return min(fine_energy / total, 1.0)


def _split_holdout(full: torch.Tensor, scale: int, settings: ZSSRSettings
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(the part to train on, the held-out right-hand band or None when there is none or
    the image is too narrow to spare one: each part needs 8 sons' pixels a side)."""
    if settings.holdout <= 0:
        return full, None
    height, width = full.shape[-2:]
    band = round(width * settings.holdout) // scale * scale
    least = 8 * scale
    if band < least or width - band < least or height // scale * scale < least:
        return full, None
    return full[..., : width - band], full[..., : height // scale * scale, width - band:]


def _held_out_error(net: nn.Module, band: torch.Tensor, scale: int, sigma: float,
                    device: torch.device, seed: int) -> float:
    """Mean squared error of ``net`` enlarging the band's downscaled copy (with the image's
    noise, the same draw for every network judged) back to the band."""
    was_training = net.training
    net.eval()
    with torch.no_grad():
        son = _resize(band, (band.shape[-2] // scale, band.shape[-1] // scale))
        if sigma > 0:
            noise = torch.randn(son.shape, generator=torch.Generator().manual_seed(seed))
            son = son + sigma * noise.to(device)
        error = float(F.mse_loss(net.to(device)(son), band))
    net.train(was_training)
    return error


def _random_crop(father: torch.Tensor, crop: int, scale: int,
                 rng: np.random.Generator) -> torch.Tensor:
    height, width = father.shape[-2:]
    ch = min(crop, height) // scale * scale
    cw = min(crop, width) // scale * scale
    y = int(rng.integers(0, height - ch + 1))
    x = int(rng.integers(0, width - cw + 1))
    return father[..., y:y + ch, x:x + cw]


def _random_orientation(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    x = torch.rot90(x, int(rng.integers(0, 4)), dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if rng.random() < 0.5 else x


def _reconstruction_probe(full: torch.Tensor, scale: int, side: int = 256) -> torch.Tensor:
    """A central crop (≤ ``side`` pixels, a multiple of the scale) to measure learning on."""
    height, width = full.shape[-2:]
    h = min(side, height) // scale * scale
    w = min(side, width) // scale * scale
    y, x = (height - h) // 2, (width - w) // 2
    return full[..., y:y + h, x:x + w]


def _reconstruction_error(net: nn.Module, probe: torch.Tensor, scale: int) -> float:
    with torch.no_grad():
        son = _resize(probe, (probe.shape[-2] // scale, probe.shape[-1] // scale))
        return float(F.l1_loss(net(son), probe))


def _loss_is_flat(steps: list[int], errors: list[float], settings: ZSSRSettings) -> bool:
    """True when a line fitted to the recent error shows no reliable decrease."""
    count = max(4, settings.fit_window // settings.record_every)
    if len(errors) < count:
        return False
    x = np.asarray(steps[-count:], dtype=np.float64)
    y = np.asarray(errors[-count:], dtype=np.float64)
    (slope, _), cov = np.polyfit(x, y, 1, cov=True)
    std = math.sqrt(max(float(cov[0, 0]), 0.0))
    return -settings.slope_factor * slope <= std
