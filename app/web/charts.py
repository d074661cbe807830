"""Charts as inline SVG, drawn on the server: no chart library, no script, readable without CSS."""

from __future__ import annotations

from markupsafe import Markup
from markupsafe import escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 14, 36


def _nice_max(value: float) -> int:
    """A round upper bound for the axis (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= value:
                return step * m
        step *= 10


def trend_chart(
    months: list[str], bars: list[int], line: list[int], title: str, bar_name: str, line_name: str
) -> Markup:
    """Bars (e.g. cases reported) and a line (e.g. cases closed) by month, with axes and a key."""
    top = _nice_max(max(bars + line + [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(months), 1)
    slot = plot_w / n

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for tick in range(5):
        value = top * tick / 4
        ty = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e4e7eb"/>'
            f'<text x="{LEFT - 4}" y="{ty + 4:.1f}" text-anchor="end">{value:g}</text>'
        )
    points = []
    for i, month in enumerate(months):
        x = LEFT + slot * i
        bar_h = plot_h * bars[i] / top
        parts.append(
            f'<rect x="{x + slot * 0.2:.1f}" y="{y(bars[i]):.1f}" width="{slot * 0.6:.1f}" '
            f'height="{bar_h:.1f}" fill="#8fc9b5"><title>{escape(month)} {escape(bar_name)} '
            f"{bars[i]}</title></rect>"
            f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
            f'text-anchor="middle">{escape(month[2:])}</text>'
        )
        points.append(f"{x + slot / 2:.1f},{y(line[i]):.1f}")
    if points:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="#0b6e4f" stroke-width="2"/>'
        )
        for i, point in enumerate(points):
            cx, cy = point.split(",")
            parts.append(
                f'<circle cx="{cx}" cy="{cy}" r="3" fill="#0b6e4f"><title>{escape(months[i])} '
                f"{escape(line_name)} {line[i]}</title></circle>"
            )
    key_y = HEIGHT - 8
    parts.append(
        f'<rect x="{LEFT}" y="{key_y - 9}" width="12" height="10" fill="#8fc9b5"/>'
        f'<text x="{LEFT + 16}" y="{key_y}">{escape(bar_name)}</text>'
        f'<line x1="{LEFT + 120}" x2="{LEFT + 136}" y1="{key_y - 4}" y2="{key_y - 4}" '
        f'stroke="#0b6e4f" stroke-width="2"/>'
        f'<text x="{LEFT + 140}" y="{key_y}">{escape(line_name)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
