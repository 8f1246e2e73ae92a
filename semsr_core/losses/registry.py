"""The loss registry: a recipe names a loss and its parameters; :func:`build` makes it.

A recipe's parameters are the constructor's keyword arguments, so adding a loss is
adding its class here. Loss modules are imported only when a loss is built.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from torch import nn

from semsr_core.errors import ConfigError

# name → (module, class). Pixel/feature losses are called loss(sr, hr); adversarial
# ones are AdversarialLoss objects (see semsr_core.losses.adversarial).
_LOSSES: dict[str, tuple[str, str]] = {
    "l1": ("semsr_core.losses.pixel", "L1Loss"),
    "l2": ("semsr_core.losses.pixel", "L2Loss"),
    "vgg": ("semsr_core.losses.vgg", "VGGLoss"),
    "gan_ns": ("semsr_core.losses.adversarial", "NonSaturatingGAN"),
    "gan_ragan": ("semsr_core.losses.adversarial", "RelativisticAverageGAN"),
    "gan_rsgan": ("semsr_core.losses.adversarial", "RelativisticStandardGAN"),
    "wgan_gp": ("semsr_core.losses.wgan_gp", "WassersteinGP"),
    "cgan": ("semsr_core.losses.adversarial", "ConditionalGAN"),
    "content_lf": ("semsr_core.losses.frequency", "LowFrequencyContentLoss"),
    "texture": ("semsr_core.losses.frequency", "TextureLoss"),
    "color": ("semsr_core.losses.frequency", "ColorLoss"),
    "fsesim": ("semsr_core.losses.fsesim", "SpatialCorrelativeLoss"),
    "patchnce": ("semsr_core.losses.patchnce", "PatchNCELoss"),
    "monce": ("semsr_core.losses.monce", "MoNCELoss"),
    "qsattn": ("semsr_core.losses.qsattn", "QSAttnNCELoss"),
    "lsesim": ("semsr_core.losses.lsesim", "LSeSimLoss"),
    "gan_ls": ("semsr_core.losses.lsgan", "LeastSquaresGAN"),
    "gradient": ("semsr_core.losses.gradient", "GradientLoss"),
    "defect_class": ("semsr_core.losses.defect_class", "DefectClassLoss"),
}

ADVERSARIAL = frozenset({"gan_ns", "gan_ls", "gan_ragan", "gan_rsgan", "wgan_gp", "cgan",
                         "texture", "color"})


def names() -> tuple[str, ...]:
    """The loss names a recipe may use, sorted."""
    return tuple(sorted(_LOSSES))


def loss_class(name: str) -> type[nn.Module]:
    """The class registered under ``name``; ConfigError naming the choices if unknown."""
    if name not in _LOSSES:
        raise ConfigError(f"unknown loss {name!r}", hint=f"choose from {', '.join(names())}")
    module, attribute = _LOSSES[name]
    return getattr(importlib.import_module(module), attribute)


def is_adversarial(name: str) -> bool:
    """Whether ``name`` is a GAN loss (needs a discriminator) rather than loss(sr, hr)."""
    loss_class(name)
    return name in ADVERSARIAL


def build(name: str, **params: Any) -> nn.Module:
    """Make the loss ``name`` with the recipe's ``params`` (its constructor's arguments).

    Unknown names and unknown parameter keys are ConfigErrors that name them and list
    what is accepted.
    """
    cls = loss_class(name)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"loss {name!r} has no parameter {', '.join(repr(k) for k in unknown)}",
            hint=f"its parameters are: {', '.join(accepted) or 'none'}",
        )
    return cls(**params)
