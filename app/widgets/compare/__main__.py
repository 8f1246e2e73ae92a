"""``python -m semsr_app.widgets.compare [FILES]``: semsr's window with the files opened."""

import sys

from semsr_app.launch import main

sys.exit(main())
