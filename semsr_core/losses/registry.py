"""The loss registry: a recipe names a loss and its parameters; :func:`build` makes it.

A recipe's parameters are the constructor's keyword arguments, so adding a loss is
adding its class here. Loss modules are imported only when a loss is built or asked
about. What a loss is (pixel, input-referenced, adversarial, ...; whether it takes the
defect mask) is declared by its class (:mod:`semsr_core.losses.roles`); the sets of
names here are derived from those declarations, never written by hand.
"""

from __future__ import annotations

import importlib
from typing import Any

from semsr_core.arguments import check_kwargs
from semsr_core.errors import ConfigError
from semsr_core.losses.roles import Loss, LossRole

# name → (module, class); each class declares its role (semsr_core.losses.roles).
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
    "lir": ("semsr_core.losses.lir", "LIRLoss"),
    "gan_ls": ("semsr_core.losses.lsgan", "LeastSquaresGAN"),
    "gradient": ("semsr_core.losses.gradient", "GradientLoss"),
    "defect_class": ("semsr_core.losses.defect_class", "DefectClassLoss"),
}

def names() -> tuple[str, ...]:
    """The loss names a recipe may use, sorted."""
    return tuple(sorted(_LOSSES))


def loss_class(name: str) -> type[Loss]:
    """The class registered under ``name``; ConfigError naming the choices if unknown."""
    if name not in _LOSSES:
        raise ConfigError(f"unknown loss {name!r}", hint=f"choose from {', '.join(names())}")
    module, attribute = _LOSSES[name]
    return getattr(importlib.import_module(module), attribute)


def role(name: str) -> LossRole:
    """The role the loss ``name`` declares; ConfigError naming the choices if unknown."""
    return loss_class(name).role


def is_adversarial(name: str) -> bool:
    """Whether ``name`` is a GAN loss (needs a discriminator) rather than loss(sr, hr)."""
    return role(name) is LossRole.ADVERSARIAL


def with_role(wanted: LossRole) -> frozenset[str]:
    """The names of the losses whose class declares the role ``wanted`` (imports every
    loss module)."""
    return frozenset(n for n in _LOSSES if role(n) is wanted)


def using_masks() -> frozenset[str]:
    """The names of the losses that accept a sample's defect mask (``uses_mask``)."""
    return frozenset(n for n in _LOSSES if loss_class(n).uses_mask)


def build(name: str, **params: Any) -> Loss:
    """Make the loss ``name`` with the recipe's ``params`` (its constructor's arguments).

    Unknown names and unknown parameter keys are ConfigErrors that name them and list
    what is accepted.
    """
    cls = loss_class(name)
    check_kwargs(cls, params, what=f"loss {name!r}")
    return cls(**params)
