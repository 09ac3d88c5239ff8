"""Investor Assistant's Textual front end and command line."""
