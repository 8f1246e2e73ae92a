"""The model card (what rebuilds, feeds and describes a generator) and the file's constants."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from semsr_core.errors import ModelError

if TYPE_CHECKING:
    pass


MODEL_SUFFIX = ".semsr"
CARD_KEY = "semsr.card"
FORMAT_KEY = "semsr.format"
FORMAT_VERSION = "1"
CHECKSUM_KEY = "semsr.sha256"
"""Header key of the SHA-256 of the card and the weights (:func:`weights_digest`)."""
IMPLAUSIBLE_WEIGHT = 1e6
"""A weight of this magnitude or more is taken for a damaged file (trained networks'
weights are a few units at most; a flipped exponent bit gives 1e30 and more)."""
SAFETENSORS_SUFFIXES = (".semsr", ".safetensors")
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt")
NORMALIZATION_MODES = ("auto", "dtype", "percentile")


# ------------------------------------------------------------------ model card


@dataclass
class ModelCard:
    """Everything needed to rebuild, feed and judge a generator.

    arch: registered architecture name (:func:`semsr_core.archs.build`).
    config: the architecture constructor's arguments, including ``scale``,
        ``in_channels`` and ``out_channels`` where the architecture takes them.
    normalization: how input intensities map to [0, 1] before ``value_range``:
        ``{"mode": "auto"}`` — the intensity policy of :mod:`semsr_core.io.intensity`
        (integers that use their range by the dtype, floats and narrow integers by
        robust percentiles, per stack); ``{"mode": "percentile", "low": 0.1,
        "high": 99.9}`` — percentiles for every dtype. ``"dtype"`` (older cards)
        reads as ``"auto"``.
    value_range: the generator's input/output range, ``(0.0, 1.0)`` or ``(-1.0, 1.0)``
        (tanh heads).
    recipe, training, metrics: how the model was made and how well it did.
    source: where imported weights came from (``file``, ``format``, ``sha256``).
    extra: card keys this version of semsr does not know (kept so that a round trip
        through an older semsr loses nothing).
    """

    arch: str
    config: dict[str, Any] = field(default_factory=dict)
    scale: int = 4
    in_channels: int = 1
    out_channels: int = 1
    normalization: dict[str, Any] = field(default_factory=lambda: {"mode": "auto"})
    value_range: tuple[float, float] = (0.0, 1.0)
    name: str = ""
    description: str = ""
    recipe: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    semsr_version: str = ""
    created: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["value_range"] = list(self.value_range)
        extra = data.pop("extra")
        return {**extra, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, path: str | os.PathLike | None = None) -> ModelCard:
        """Validate a card read from a file; errors name the file and the key."""
        if not isinstance(data, dict):
            raise ModelError(
                "the model card is not a JSON object",
                path=path,
                hint="Re-export the model with `semsr models export`.",
            )
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}

        def bad(key: str, what: str) -> ModelError:
            return ModelError(
                f"model card key '{key}' {what}",
                path=path,
                hint="The file was damaged or written by another program; "
                "re-export or re-import the model.",
            )

        if not isinstance(values.get("arch"), str) or not values["arch"]:
            raise bad("arch", "is missing or not a name")
        for key in ("scale", "in_channels", "out_channels"):
            value = values.get(key, getattr(cls, key, None))
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(key, f"must be a whole number ≥ 1, not {value!r}")
        for key in ("config", "normalization", "training", "metrics", "source"):
            if key in values and not isinstance(values[key], dict):
                raise bad(key, "must be a JSON object")
        for key in ("name", "description", "recipe", "semsr_version", "created"):
            if key in values and not isinstance(values[key], str):
                raise bad(key, "must be a string")
        config = values.get("config", {})
        for key in ("scale", "in_channels", "out_channels"):
            if key in config and key in values and config[key] != values[key]:
                raise bad(
                    f"config.{key}", f"is {config[key]!r} but the card's {key} is {values[key]!r}"
                )
        norm = values.get("normalization", {"mode": "auto"})
        if norm.get("mode") not in NORMALIZATION_MODES:
            raise bad(
                "normalization.mode",
                f"must be one of {NORMALIZATION_MODES}, not {norm.get('mode')!r}",
            )
        if norm["mode"] == "percentile":
            low, high = norm.get("low"), norm.get("high")
            if (
                not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
                or not 0 <= low < high <= 100
            ):
                raise bad(
                    "normalization",
                    "with mode 'percentile' needs numbers "
                    f"0 ≤ low < high ≤ 100, not low={low!r}, high={high!r}",
                )
        if "value_range" in values:
            vr = values["value_range"]
            if (
                not isinstance(vr, list | tuple)
                or len(vr) != 2
                or not all(isinstance(v, int | float) for v in vr)
                or not vr[0] < vr[1]
            ):
                raise bad("value_range", f"must be [low, high] with low < high, not {vr!r}")
            values["value_range"] = (float(vr[0]), float(vr[1]))
        return cls(**values, extra=extra)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
