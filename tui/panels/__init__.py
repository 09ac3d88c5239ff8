"""The main screen's panes: thread list, run panel, prompt, title bar, and text helpers."""
