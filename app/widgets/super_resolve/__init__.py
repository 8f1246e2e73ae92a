"""The Super-resolve panel (:class:`SuperResolvePanel`), one job per module:

- :mod:`.panel` — the panel: its layout, what is still missing before Run;
- :mod:`.sources` — the source (an image layer, or files and folders) and the Reference
  layer of reference-based models (MASA-SR);
- :mod:`.models` — the model list and the settings (device, tiles, precision, guard,
  adapt, ZSSR);
- :mod:`.job` — the running job: worker, progress, Cancel, the result layer or files;
- :mod:`.choices` — the fixed choices of its lists.

Run it on its own with ``python -m semsr_app.widgets.super_resolve [FILES]``.
"""

from semsr_app.widgets.parts import Outcome
from semsr_app.widgets.super_resolve.choices import (
    GUARDS,
    IMAGE_FILTER,
    MODEL_FILTER,
    OPEN_MODEL,
    OUTPUT_TYPES,
    PRECISIONS,
    TILE_CHOICES,
    ZSSR_LABEL,
    ZSSR_MODEL,
    ZSSR_SECONDS,
)
from semsr_app.widgets.super_resolve.panel import SuperResolvePanel

__all__ = ["GUARDS", "IMAGE_FILTER", "MODEL_FILTER", "OPEN_MODEL", "OUTPUT_TYPES",
           "PRECISIONS", "TILE_CHOICES", "ZSSR_LABEL", "ZSSR_MODEL", "ZSSR_SECONDS",
           "Outcome", "SuperResolvePanel"]
