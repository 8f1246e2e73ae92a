"""``python -m semsr_app.widgets.wizard``: napari with the training wizard beside it."""

import sys

from semsr_app.widgets.wizard.window import main

sys.exit(main())
