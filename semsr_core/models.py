"""Model files: a generator plus its model card.

A ``.semsr`` model is safetensors weights with the JSON model card stored in the
safetensors header metadata (one file; loading never unpickles). The card says how
to rebuild the generator (``arch`` + ``config`` through :func:`semsr_core.archs.build`)
and how to feed it (``normalization``, ``value_range``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ModelCard:
    """Everything needed to rebuild, feed and judge a generator.

    normalization: how input intensities map to [0, 1] before ``value_range``:
        ``{"mode": "dtype"}`` — divide by the dtype's maximum (uint8/uint16; floats
        are taken as already in [0, 1]); ``{"mode": "percentile", "low": 0.1,
        "high": 99.9}`` — per-image percentiles as in CSBDeep.
    value_range: the generator's input/output range, ``(0.0, 1.0)`` or ``(-1.0, 1.0)``
        (tanh heads).
    """

    arch: str
    config: dict[str, Any] = field(default_factory=dict)
    scale: int = 4
    in_channels: int = 1
    out_channels: int = 1
    normalization: dict[str, Any] = field(default_factory=lambda: {"mode": "dtype"})
    value_range: tuple[float, float] = (0.0, 1.0)
    name: str = ""
    description: str = ""
    recipe: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    semsr_version: str = ""
    created: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["value_range"] = list(self.value_range)
        return data
