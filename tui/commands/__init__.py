"""The headless subcommands of ``investor-assistant``, one module each."""
