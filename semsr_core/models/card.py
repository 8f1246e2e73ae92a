"""The model card (what rebuilds, feeds and describes a generator) and the file's constants."""

from __future__ import annotations

import functools
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
        """Validate a card read from a file (by the pydantic schema of
        :func:`_card_schema`); errors name the file and the key."""
        from pydantic import ValidationError

        if not isinstance(data, dict):
            raise ModelError(
                "the model card is not a JSON object",
                path=path,
                hint="Re-export the model with `semsr models export`.",
            )
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}
        try:
            checked = _card_schema().model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "card"
            what = str(first["msg"]).removeprefix("Value error, ")
            raise ModelError(
                f"model card key '{key}' {what}",
                path=path,
                hint="The file was damaged or written by another program; "
                "re-export or re-import the model.",
            ) from None
        values = checked.model_dump(include=set(values))
        if "value_range" in values:
            values["value_range"] = tuple(values["value_range"])
        return cls(**values, extra=extra)


@functools.cache
def _card_schema():
    """The pydantic schema of a card's known keys (built on first use: pydantic is
    imported only where a card is read)."""
    from typing import Annotated

    from pydantic import (
        BaseModel,
        ConfigDict,
        Field,
        StrictFloat,
        StrictInt,
        StrictStr,
        field_validator,
        model_validator,
    )

    whole = Annotated[StrictInt, Field(ge=1)]

    class CardSchema(BaseModel):
        """Types and rules of the card's keys; the messages are the user's."""

        model_config = ConfigDict(extra="forbid")

        arch: Annotated[StrictStr, Field(min_length=1)]
        config: dict[str, Any] = {}
        scale: whole = 4
        in_channels: whole = 1
        out_channels: whole = 1
        normalization: dict[str, Any] = {"mode": "auto"}
        value_range: tuple[StrictFloat | StrictInt, StrictFloat | StrictInt] = (0.0, 1.0)
        name: StrictStr = ""
        description: StrictStr = ""
        recipe: StrictStr = ""
        training: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        semsr_version: StrictStr = ""
        created: StrictStr = ""
        source: dict[str, Any] = {}

        @field_validator("normalization")
        @classmethod
        def _known_mode(cls, norm: dict[str, Any]) -> dict[str, Any]:
            if norm.get("mode") not in NORMALIZATION_MODES:
                raise ValueError(f"must be one of {NORMALIZATION_MODES}, not "
                                 f"{norm.get('mode')!r}")
            if norm["mode"] == "percentile":
                low, high = norm.get("low"), norm.get("high")
                numbers = all(isinstance(v, int | float) and not isinstance(v, bool)
                              for v in (low, high))
                if not numbers or not 0 <= low < high <= 100:
                    raise ValueError("with mode 'percentile' needs numbers 0 ≤ low < high ≤ "
                                     f"100, not low={low!r}, high={high!r}")
            return norm

        @field_validator("value_range")
        @classmethod
        def _ordered(cls, vr: tuple[float, float]) -> tuple[float, float]:
            if not vr[0] < vr[1]:
                raise ValueError(f"must be [low, high] with low < high, not {list(vr)!r}")
            return (float(vr[0]), float(vr[1]))

        @model_validator(mode="after")
        def _config_agrees(self) -> CardSchema:
            for key in ("scale", "in_channels", "out_channels"):
                if key in self.config and key in self.model_fields_set \
                        and self.config[key] != getattr(self, key):
                    raise ValueError(f"config.{key} is {self.config[key]!r} but the card's "
                                     f"{key} is {getattr(self, key)!r}")
            return self

    return CardSchema


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
