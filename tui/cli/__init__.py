"""The headless command line of ``investor-assistant`` (no Textual import): the parser and
dispatch in ``main``, one module per subcommand; ``launch`` hands over to the full-screen app."""

from .main import main

__all__ = ["main"]
