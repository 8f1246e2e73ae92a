"""``python -m semsr_app.widgets.training_monitor [RUN_FOLDER]``: napari with the monitor."""

import sys

from semsr_app.widgets.training_monitor.monitor import main

sys.exit(main())
