"""The app's screens: start (first frame), main, inspector, dialogs, help."""
