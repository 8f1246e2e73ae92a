"""semsr_core: the engine of semsr (no Qt anywhere in this package).

Public API (imported lazily so that ``import semsr_core`` stays light):

- :func:`read_stack`, :func:`write_stack` — SEM TIFF stacks with pixel size.
- :func:`load_model`, :class:`Model` — model files (generator + model card).
- :func:`super_resolve`, :func:`super_resolve_file` — tiled inference on images, stacks
  and files.
- :func:`evaluate` — models and the bicubic baseline on a dataset, as a report folder.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read_stack": "semsr_core.io",
    "write_stack": "semsr_core.io",
    "Stack": "semsr_core.io",
    "load_model": "semsr_core.models",
    "Model": "semsr_core.models",
    "super_resolve": "semsr_core.infer",
    "super_resolve_file": "semsr_core.infer",
    "evaluate": "semsr_core.metrics",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'semsr_core' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
