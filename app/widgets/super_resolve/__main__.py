"""``python -m semsr_app.widgets.super_resolve [FILES]``: semsr's window (this panel is
one of its tabs, in front) with the files opened."""

import sys

from semsr_app.launch import main

sys.exit(main())
