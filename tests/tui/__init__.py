"""Tests of the Textual app and its widgets."""
