"""``python -m semsr_app.widgets.export [FILES]``: semsr's window (the Export panel is one
of its tabs) with the files opened."""

import sys

from semsr_app.launch import main

sys.exit(main())
