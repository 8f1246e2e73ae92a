"""Checks on network arguments, shared by the architecture files.

A network's constructor arguments are the keys of its config, so a bad value is a
configuration mistake: these checks raise :class:`~semsr_core.errors.ConfigError`
naming the network, the key and the values that work.
"""

from __future__ import annotations

from collections.abc import Iterable

from semsr_core.errors import ConfigError


def require_choice(arch: str, key: str, value: object, allowed: Iterable[object]) -> None:
    """Raise ConfigError unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        choices = ", ".join(str(a) for a in allowed)
        raise ConfigError(
            f"{arch}: '{key}' = {value!r} is not supported",
            hint=f"Use one of: {choices}.",
        )


def require_at_least(arch: str, key: str, value: int | float, minimum: int | float) -> None:
    """Raise ConfigError unless ``value >= minimum``."""
    if value < minimum:
        raise ConfigError(
            f"{arch}: '{key}' = {value!r} is too small",
            hint=f"Use a value of at least {minimum}.",
        )


def require_probability(arch: str, key: str, value: float) -> None:
    """Raise ConfigError unless ``0 <= value < 1`` (dropout rates)."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(
            f"{arch}: '{key}' = {value!r} is not a probability",
            hint="Use a value in [0, 1).",
        )


def doublings(arch: str, key: str, factor: int, allowed: Iterable[int]) -> int:
    """Number of ×2 steps that make ``factor`` (a power of two listed in ``allowed``)."""
    require_choice(arch, key, factor, allowed)
    return factor.bit_length() - 1
