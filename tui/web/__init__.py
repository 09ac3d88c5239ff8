"""The app in a browser: ``investor-assistant web`` serves it with textual-serve, one app
process per browser tab. Nothing here imports Textual: the app runs in those processes."""
