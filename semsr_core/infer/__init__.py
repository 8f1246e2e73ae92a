"""Inference: enlarge images and stacks with a model (SPEC §8).

- :func:`super_resolve` — a 2-D/3-D array or a lazily-read stack, tiled and blended.
- :func:`super_resolve_file` — a file in, an OME-TIFF with pixel size and provenance out.
- :func:`available_devices`, :func:`resolve_device`, :func:`choose_precision` — devices.
- :class:`ZSSRSettings` — how ZSSR models train on each image at inference time.
"""

from __future__ import annotations

from semsr_core.infer.api import DEFAULT_OVERLAP, super_resolve
from semsr_core.infer.device import available_devices, choose_precision, resolve_device
from semsr_core.infer.to_file import super_resolve_file
from semsr_core.infer.zssr import ZSSRSettings

__all__ = [
    "DEFAULT_OVERLAP",
    "ZSSRSettings",
    "available_devices",
    "choose_precision",
    "resolve_device",
    "super_resolve",
    "super_resolve_file",
]
