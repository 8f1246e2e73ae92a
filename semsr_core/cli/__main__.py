"""``python -m semsr_core.cli``: the ``semsr`` command."""

import sys

from semsr_core.cli import main

sys.exit(main())
