"""Investor Assistant's core: the Assistants object model, run engine, tools and store.

Headless by design: nothing here imports Textual, and heavy libraries (openai, pandas,
yfinance, plotext) are imported where first used.
"""

__version__ = "0.1.0"
