"""``python -m semsr_app.widgets.super_resolve [FILES]``: napari with the panel docked."""

import sys

from semsr_app.widgets.super_resolve.panel import main

sys.exit(main())
