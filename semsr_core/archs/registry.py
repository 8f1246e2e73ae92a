"""The table of every network semsr can build, and ``build(name, **config)``.

A config's keys are the constructor's arguments of the network's class; ``build``
checks names and types before constructing, so a recipe with a typo fails with a
message that names the key and lists the accepted ones. Adding an architecture is
adding its file and one :class:`ArchSpec` line below.
"""

from __future__ import annotations

import inspect
import numbers
import typing
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from semsr_core.archs.rrdbnet import RRDBNet
from semsr_core.errors import ConfigError

Kind = Literal["generator", "discriminator"]


@dataclass(frozen=True)
class ArchSpec:
    """What a caller needs to know about a network before building and feeding it.

    name: registry name (``build(name, ...)``).
    kind: ``"generator"`` or ``"discriminator"`` (critics included).
    cls: the ``nn.Module`` class; its constructor arguments are the config keys.
    value_range: range of the images it takes and returns — ``(0.0, 1.0)``, or
        ``(-1.0, 1.0)`` for networks with a tanh head.
    input_at_output_size: True when the input is the LR image already upscaled to
        the output size (pix2pix generators); False when the network upsamples.
    size_multiple: input height and width must be multiples of this.
    min_size: smallest input side (with the default config) for which the network
        runs in training and evaluation mode, batch size 1 included.
    source: where the design comes from (tags as in SPEC.md).
    """

    name: str
    kind: Kind
    cls: type[nn.Module]
    value_range: tuple[float, float] = (0.0, 1.0)
    input_at_output_size: bool = False
    size_multiple: int = 1
    min_size: int = 1
    source: str = ""


_TANH = (-1.0, 1.0)

_SPECS: tuple[ArchSpec, ...] = (
    # generators
    ArchSpec("rrdbnet", "generator", RRDBNet, source="[S0] §1.2, App. A; ESRGAN"),
)

_BY_NAME: dict[str, ArchSpec] = {s.name: s for s in _SPECS}


def names(kind: Kind | None = None) -> list[str]:
    """Registered network names, optionally only generators or only discriminators."""
    if kind not in (None, "generator", "discriminator"):
        raise ConfigError(
            f"unknown network kind {kind!r}", hint="Use 'generator' or 'discriminator'."
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


def build(name: str, **config: Any) -> nn.Module:
    """Build the network ``name`` with constructor arguments ``config``.

    Missing keys take the class defaults. Unknown keys and values of the wrong type
    raise :class:`ConfigError` naming the key and the accepted keys; values the
    network cannot use (e.g. ``scale=3``) raise ConfigError from the network.
    """
    arch = spec(name)
    return arch.cls(**_checked_config(arch, config))


def _checked_config(arch: ArchSpec, config: dict[str, Any]) -> dict[str, Any]:
    parameters = {
        key: p
        for key, p in inspect.signature(arch.cls.__init__).parameters.items()
        if key != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    hints = typing.get_type_hints(arch.cls.__init__)
    accepted = ", ".join(parameters)
    checked = {}
    for key, value in config.items():
        if key not in parameters:
            raise ConfigError(
                f"{arch.name}: unknown key '{key}'", hint=f"Accepted keys: {accepted}."
            )
        checked[key] = _typed_value(arch.name, key, value, hints.get(key))
    return checked


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
