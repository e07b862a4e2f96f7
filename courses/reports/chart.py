"""The distribution chart of the Lotse's overview, drawn here as inline SVG (no script, no
external resource)."""

from __future__ import annotations

from markupsafe import Markup

from .overview import Bucket


def distribution_svg(buckets: list[Bucket], *, title: str, description: str) -> Markup:
    """A horizontal bar chart of ``buckets`` as inline SVG (no script, no external resource).
    The page shows the same numbers as a table next to it."""
    width, label_w, bar_max, row_h, top = 560, 90, 380, 34, 8
    height = top * 2 + row_h * len(buckets)
    highest = max((b.count for b in buckets), default=0) or 1
    parts = [
        Markup(
            '<svg class="lotse-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
            'viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet" '
            'aria-labelledby="chart-title chart-desc" focusable="false">'
        ).format(w=width, h=height),
        Markup('<title id="chart-title">{}</title>').format(title),
        Markup('<desc id="chart-desc">{}</desc>').format(description),
    ]
    for index, bucket in enumerate(buckets):
        y = top + index * row_h
        length = round(bar_max * bucket.count / highest)
        parts.append(
            Markup(
                '<g class="lotse-chart-row">'
                '<text x="{lx}" y="{ty}" text-anchor="end" class="lotse-chart-label">{label}</text>'
                '<rect x="{bx}" y="{by}" width="{bw}" height="{bh}" class="lotse-chart-bar b{i}"/>'
                '<text x="{vx}" y="{ty}" class="lotse-chart-value">{count}</text>'
                "</g>"
            ).format(
                lx=label_w - 8,
                ty=y + row_h / 2 + 5,
                label=bucket.label,
                bx=label_w,
                by=y + 4,
                bw=max(length, 1 if bucket.count else 0),
                bh=row_h - 8,
                i=index,
                vx=label_w + length + 6,
                count=bucket.count,
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
