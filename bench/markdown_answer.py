"""The Markdown answer the streaming benchmarks send: a research report of sections with
headings, paragraphs, lists, tables and (every third section) a code block, cut into
~4-character tokens as a model streams them."""

from __future__ import annotations

import re


def report_tokens(count: int) -> list[str]:
    """The first ``count`` tokens of the report."""
    parts: list[str] = []
    section = 0
    while True:
        section += 1
        parts.append(
            f"## {section}. Revenue and margins\n\n"
            f"Apple's fiscal {2019 + section % 6} revenue was **$391.0B**, up {section % 7}.{section % 10}% "
            "year over year, while the gross margin reached `46.2%`. Services kept growing faster "
            "than hardware, and the iPhone remained the largest segment by far.\n\n"
            "- Revenue: $391.0B\n- Net income: $93.7B\n- Free cash flow: $108.8B\n\n"
            "| Metric | 2024 | 2023 | 2022 |\n| --- | ---: | ---: | ---: |\n"
            "| Revenue | 391.0B | 383.3B | 394.3B |\n| Net income | 93.7B | 97.0B | 99.8B |\n"
            "| EPS | 6.11 | 6.16 | 6.15 |\n\n"
        )
        if section % 3 == 0:
            parts.append(
                "```python\nimport yfinance as yf\nprices = yf.Ticker('AAPL').history(period='6mo')\n"
                "print(prices['Close'].tail())\n```\n\n"
            )
        tokens = re.findall(r"\s*\S{1,4}|\s+", "".join(parts))
        if len(tokens) >= count:
            return tokens[:count]
