"""``python -m tui.cli``: the ``investor-assistant`` command (how the web server starts the
app for each browser tab, with the same interpreter)."""

import sys

from .main import main

sys.exit(main())
