"""Metric values and tables as terminals and markdown show them."""

from __future__ import annotations

import math

from evals.metrics import COUNTS, LOWER_IS_BETTER


def fmt(value: float | None, metric: str) -> str:
    """A metric as tables show it: ratios to 3 decimals, latencies and token counts in
    whole numbers, null as n/a.

    Example: fmt(0.95652, "article_hit_at_5") == "0.957"; fmt(None, "support") == "n/a"
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.0f}" if metric in LOWER_IS_BETTER | COUNTS else f"{value:.3f}"


def text_table(rows: list[list[str]]) -> str:
    """Rows aligned in columns for a terminal: the first column left, numbers right.

    Example: text_table([["m", "all"], ["x", "1.0"]]) == "m  all\\nx  1.0"
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in rows]
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    """Rows as a GitHub markdown table, numbers right-aligned.

    Example: markdown_table([["m", "all"], ["x", "1.0"]]) == "| m | all |\\n|---|--:|\\n| x | 1.0 |"
    """
    head = "| " + " | ".join(rows[0]) + " |"
    rule = "|---|" + "--:|" * (len(rows[0]) - 1)
    return "\n".join([head, rule, *("| " + " | ".join(r) + " |" for r in rows[1:])])
