"""The table of every network semsr can build, and ``build(name, **config)``.

A config's keys are the constructor's arguments of the network's class; ``build``
checks names and types before constructing, so a recipe with a typo fails with a
message that names the key and lists the accepted ones. Adding an architecture is
adding its file and one :class:`ArchSpec` line below.
"""

from __future__ import annotations

import numbers
import typing
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from semsr_core.archs.dcgan_d import DCGANDiscriminator
from semsr_core.archs.defect_classifier import DefectClassifier
from semsr_core.archs.lir import LIRNet
from semsr_core.archs.masa import MASANet
from semsr_core.archs.n2_d import N2Discriminator
from semsr_core.archs.patchgan import PatchGAN9, PatchGAN34, PatchGAN70
from semsr_core.archs.resnet_gen import ResNetGenerator
from semsr_core.archs.rir import RIRNet
from semsr_core.archs.rrdbnet import RRDBNet
from semsr_core.archs.srgan_d import SRGANDiscriminator, SRGANDiscriminatorReduced
from semsr_core.archs.srresnet import SRResNet, SRResNetIN
from semsr_core.archs.unet import UNet, UNet64, UNet128, UNet256
from semsr_core.archs.wgan_critic import WGANCritic
from semsr_core.archs.wgan_resnet import WGANResNet
from semsr_core.archs.zssr import ZSSRNet
from semsr_core.arguments import check_kwargs
from semsr_core.errors import ConfigError

Kind = Literal["generator", "discriminator", "classifier"]


@dataclass(frozen=True)
class ArchSpec:
    """What a caller needs to know about a network before building and feeding it.

    name: registry name (``build(name, ...)``).
    kind: ``"generator"``, ``"discriminator"`` (critics included) or ``"classifier"``
        (tile → class logits; never a recipe's generator or discriminator).
    cls: the ``nn.Module`` class; its constructor arguments are the config keys.
    value_range: range of the images it takes and returns — ``(0.0, 1.0)``, or
        ``(-1.0, 1.0)`` for networks with a tanh head.
    input_at_output_size: True when the input is the LR image already upscaled to
        the output size (pix2pix generators); False when the network upsamples.
    size_multiple: input height and width must be multiples of this (for ``unet``,
        whose depth is a config key, the value holds for the default depth 7).
    min_size: smallest input side (with the default config) for which the network
        runs in training and evaluation mode, batch size 1 included; for ``srgan_d``
        and ``srgan_d_reduced`` the smallest ``input_size`` they can be built for.
    source: where the design comes from (tags as in SPEC.md).
    reference_input: the generator takes ``(image, reference)``: a second, HR image
        whose texture it transfers (MASA-SR); training gives each sample one and
        inference needs one (``--reference``).
    """

    name: str
    kind: Kind
    cls: type[nn.Module]
    value_range: tuple[float, float] = (0.0, 1.0)
    input_at_output_size: bool = False
    size_multiple: int = 1
    min_size: int = 1
    source: str = ""
    reference_input: bool = False


_TANH = (-1.0, 1.0)

_SPECS: tuple[ArchSpec, ...] = (
    # generators
    ArchSpec("srresnet", "generator", SRResNet, min_size=2, source="[S2] SRGAN"),
    ArchSpec("srresnet_in", "generator", SRResNetIN, min_size=2, source="[S0] §1.3 (N2)"),
    ArchSpec("rrdbnet", "generator", RRDBNet, source="[S0] §1.2, App. A; ESRGAN"),
    ArchSpec("wgan_resnet", "generator", WGANResNet, _TANH, source="[S3] §4.1.1, table 1"),
    ArchSpec("rir", "generator", RIRNet, min_size=2, source="[S4] §3.2.2"),
    ArchSpec("zssr", "generator", ZSSRNet, source="[S1] §3.1"),
    ArchSpec("unet", "generator", UNet, _TANH, True, 128, 128,
             "[S1] §3.2.2; pix2pix (any depth; limits shown for the default 7)"),
    ArchSpec("unet64", "generator", UNet64, _TANH, True, 64, 64, "[S1] §3.2.2; pix2pix"),
    ArchSpec("unet128", "generator", UNet128, _TANH, True, 128, 128, "[S1] §3.2.2; pix2pix"),
    ArchSpec("unet256", "generator", UNet256, _TANH, True, 256, 256, "[S1] §3.2.2; pix2pix"),
    ArchSpec("resnet_gen", "generator", ResNetGenerator, _TANH, True, 4, 8,
             "[S1] §3.2.1; pix2pix/CycleGAN"),
    ArchSpec("masa", "generator", MASANet, min_size=4, source="[S1] §2.3, §3.3; MASA-SR",
             reference_input=True),
    ArchSpec("lir", "generator", LIRNet, _TANH, True, 4, 8,
             "[S1] §2.2, §3.4; Du et al. 2020 (LIR)"),
    # discriminators and critics (logits / scores, no output activation)
    ArchSpec("srgan_d", "discriminator", SRGANDiscriminator, size_multiple=16, min_size=32,
             source="[S2] SRGAN; [S0] §1.2 (N1, features=32)"),
    ArchSpec("srgan_d_reduced", "discriminator", SRGANDiscriminatorReduced, size_multiple=4,
             min_size=8, source="[S0] App. A (N1-reduced)"),
    ArchSpec("dcgan_d", "discriminator", DCGANDiscriminator, min_size=64,
             source="[S0] §3.2.2"),
    ArchSpec("patchgan34", "discriminator", PatchGAN34, min_size=12, source="[S0] §3.3"),
    ArchSpec("patchgan70", "discriminator", PatchGAN70, min_size=24,
             source="[S1] §2.2; pix2pix"),
    ArchSpec("patchgan9", "discriminator", PatchGAN9, min_size=3, source="[S0] App. B"),
    ArchSpec("wgan_critic", "discriminator", WGANCritic, min_size=17,
             source="[S3] §4.1.2, table 1"),
    ArchSpec("n2_d", "discriminator", N2Discriminator, source="[S0] §1.3 (N2)"),
    # classifiers (tile -> class logits)
    ArchSpec("defect_classifier", "classifier", DefectClassifier, min_size=8,
             source="[S2] label-guided SRGAN: the pretrained classifier"),
)

_BY_NAME: dict[str, ArchSpec] = {s.name: s for s in _SPECS}


def names(kind: Kind | None = None) -> list[str]:
    """Registered network names, optionally only those of one kind."""
    if kind not in (None, "generator", "discriminator", "classifier"):
        raise ConfigError(
            f"unknown network kind {kind!r}",
            hint="Use 'generator', 'discriminator' or 'classifier'.",
        )
    return [s.name for s in _SPECS if kind is None or s.kind == kind]


def spec(name: str) -> ArchSpec:
    """The :class:`ArchSpec` of the network called ``name``."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown network {name!r}", hint=f"Known networks: {', '.join(_BY_NAME)}."
        ) from None


def build(name: str, /, **config: Any) -> nn.Module:
    """Build the network ``name`` with constructor arguments ``config``.

    Missing keys take the class defaults. Unknown keys and values of the wrong type
    raise :class:`ConfigError` naming the key and the accepted keys; values the
    network cannot use (e.g. ``scale=3``) raise ConfigError from the network.
    """
    arch = spec(name)
    return arch.cls(**_checked_config(arch, config))


def _checked_config(arch: ArchSpec, config: dict[str, Any]) -> dict[str, Any]:
    check_kwargs(arch.cls, config, what=arch.name)
    hints = typing.get_type_hints(arch.cls.__init__)
    return {key: _typed_value(arch.name, key, value, hints.get(key))
            for key, value in config.items()}


def _typed_value(arch: str, key: str, value: Any, expected: Any) -> Any:
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    elif expected is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
    else:
        return value
    wanted = {bool: "true or false", int: "a whole number", float: "a number"}[expected]
    raise ConfigError(
        f"{arch}: '{key}' must be {wanted}, got {value!r}",
        hint=f"Write '{key}' as {wanted} in the config.",
    )
