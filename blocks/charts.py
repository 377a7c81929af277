"""The weekly report's chart, drawn as a PNG: disputes opened and resolved per week (bars) and
the median hours to resolve (a line). Drawn on matplotlib's Agg canvas, without pyplot: no
display, no global figure state, safe to draw in a worker thread."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from disputes.insight_report import TrendPoint

OPENED, RESOLVED, MEDIAN = "#1f3a5f", "#6fa8dc", "#e69138"  # the app's blue, a light one, amber
SIZE = (9.0, 4.5)  # inches
DPI = 110
WIDTH = 0.38  # of a bar; two to a week
HEADROOM = 1.35  # above the highest bar or point: room for the legend


def weekly_chart(points: Sequence[TrendPoint]) -> bytes:
    """The weeks of `points` (oldest first) as PNG bytes. A week without a resolution leaves a
    gap in the line; no weeks at all draws empty axes that say so."""
    # Imported here, where the chart is drawn (once a week, in a worker thread): matplotlib
    # takes about a second to import, which `serve` need not wait for at every start.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    bars = figure.add_subplot()
    bars.set_title("Disputes per week, and the median time to resolve", loc="left")
    places = list(range(len(points)))
    opened = [p.opened for p in points]
    resolved = [p.resolved for p in points]
    bars.bar([x - WIDTH / 2 for x in places], opened, WIDTH, color=OPENED)
    bars.bar([x + WIDTH / 2 for x in places], resolved, WIDTH, color=RESOLVED)
    bars.set_xticks(places, [f"{p.start.day} {p.start:%b}" for p in points])
    bars.set_xlabel("week starting")
    bars.set_ylabel("disputes")
    bars.yaxis.set_major_locator(MaxNLocator(integer=True))
    bars.set_ylim(0, max([*opened, *resolved, 1]) * HEADROOM)
    bars.spines[["top", "right"]].set_visible(False)

    hours = bars.twinx()
    medians = [math.nan if p.median_hours is None else p.median_hours for p in points]
    hours.plot(places, medians, marker="o", color=MEDIAN)
    hours.set_ylabel("median hours to resolve")
    hours.set_ylim(0, max([m for m in medians if not math.isnan(m)] + [1.0]) * HEADROOM)
    hours.spines[["top"]].set_visible(False)

    if not points:
        bars.set_xlim(-0.5, 0.5)
        bars.text(0.5, 0.5, "No weeks to show", ha="center", va="center", transform=bars.transAxes)
    legend = [
        Patch(color=OPENED, label="opened"),
        Patch(color=RESOLVED, label="resolved"),
        Line2D([], [], color=MEDIAN, marker="o", label="median hours to resolve"),
    ]
    bars.legend(handles=legend, loc="upper left", frameon=False, ncols=3)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
