"""Every network semsr trains or runs, built by name from a small config.

    >>> from semsr_core import archs
    >>> net = archs.build("rrdbnet", scale=2, blocks=4, features=64)
    >>> archs.spec("rrdbnet").value_range
    (0.0, 1.0)

Each family lives in its own file as a plain ``nn.Module`` that knows nothing of
configs, files or training; :mod:`semsr_core.archs.registry` maps names to them.
"""

from __future__ import annotations

from semsr_core.archs.registry import ArchSpec, build, names, spec

__all__ = ["ArchSpec", "build", "names", "spec"]
