"""A bar chart as inline SVG (no JavaScript, no build step): one bar per day, its amount as the title."""

from datetime import timedelta
from decimal import Decimal

from django.utils.html import format_html, format_html_join

from .display import money

WIDTH, HEIGHT, GAP = 560, 120, 2


def daily_bars(amounts: dict, first_day, days: int, currency: str):
    """``amounts``: {date: Decimal}; every day from ``first_day`` gets a bar (0 when absent)."""
    series = [(first_day + timedelta(days=i), amounts.get(first_day + timedelta(days=i), Decimal(0))) for i in range(days)]
    top = max((value for _, value in series), default=Decimal(0)) or Decimal(1)
    bar = WIDTH / days
    bars = []
    for i, (day, value) in enumerate(series):
        height = float(value / top) * (HEIGHT - 14) if value > 0 else 0
        bars.append(
            (
                f"{i * bar:.1f}",
                f"{HEIGHT - height:.1f}",
                f"{max(bar - GAP, 1):.1f}",
                f"{height:.1f}",
                f"{day:%a %d %b}: {money(value, currency)} {currency}",
            )
        )
    return format_html(
        '<svg class="daily-bars" viewBox="0 0 {} {}" width="100%" height="{}" role="img" aria-label="{}">{}'
        '<text x="0" y="10" font-size="10" fill="currentColor">{}</text></svg>',
        WIDTH,
        HEIGHT,
        HEIGHT,
        f"Posted amount per day in {currency}",
        format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}" fill="#417690"><title>{}</title></rect>', bars),
        f"max {money(top, currency)} {currency}",
    )
