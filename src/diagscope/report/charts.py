"""Small inline SVG charts: no scripts, no external assets, readable when printed."""

from __future__ import annotations

from html import escape

from diagscope.report.model import TimeBucket

PALETTE = {
    "essential": "#2e7d32", "service": "#66bb6a", "required": "#f9a825", "enhanced": "#ef6c00",
    "optional": "#c62828", "unknown": "#757575", "ok": "#2e7d32", "review": "#f9a825",
    "violation": "#c62828", "bar": "#1565c0",
}


def hbars(items: list[tuple[str, int, str]], title: str, width: int = 520) -> str:
    """Horizontal bars: (label, value, colour) per row."""
    if not items:
        return ""
    row, label_w = 22, 230
    top = max(v for _, v, _ in items) or 1
    height = row * len(items) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    for i, (label, value, colour) in enumerate(items):
        y = 4 + i * row
        bar = max(1, round((width - label_w - 60) * value / top)) if value else 0
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar}" height="15" fill="{colour}">'
            f"<title>{escape(label)}: {value}</title></rect>"
            f'<text x="{label_w + bar + 5}" y="{y + 15}" font-size="12">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def timeline(buckets: list[TimeBucket], title: str, width: int = 720, height: int = 180) -> str:
    """Events per time bucket, the violating share drawn over each bar."""
    if not buckets:
        return ""
    left, bottom, top_pad = 40, 30, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    peak = max(b.events for b in buckets) or 1
    step = plot_w / len(buckets)
    bar_w = max(1.0, step * 0.8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" y2="{top_pad + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="{top_pad + 10}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, b in enumerate(buckets):
        x = left + i * step
        h = plot_h * b.events / peak
        hv = plot_h * b.violations / peak
        base = top_pad + plot_h
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE["bar"]}"><title>{escape(b.start)}: {b.events} events, '
            f"{b.violations} violating</title></rect>"
        )
        if hv:
            parts.append(
                f'<rect x="{x:.1f}" y="{base - hv:.1f}" width="{bar_w:.1f}" height="{hv:.1f}" '
                f'fill="{PALETTE["violation"]}"/>'
            )
    parts.append(
        f'<text x="{left}" y="{height - 8}" font-size="11">{escape(buckets[0].start)}</text>'
        f'<text x="{width - 10}" y="{height - 8}" text-anchor="end" font-size="11">'
        f"{escape(buckets[-1].start)}</text></svg>"
    )
    return "".join(parts)
