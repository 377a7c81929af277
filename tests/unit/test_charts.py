"""The weekly chart: a PNG of the size drawn, for busy weeks, empty weeks, weeks without a
median and no weeks at all."""

from __future__ import annotations

import io

import matplotlib.image
import pytest

from blocks.charts import DPI, SIZE, weekly_chart
from disputes.insight_report import TrendPoint
from tests.support.insights import weeks

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pixels(png: bytes) -> tuple[int, int]:
    """(height, width) of the decoded image."""
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    return image.shape[0], image.shape[1]


def quiet(point: TrendPoint) -> TrendPoint:
    return point.model_copy(
        update={"opened": 0, "resolved": 0, "median_hours": None, "csat_score": None}
    )


@pytest.mark.parametrize(
    "points",
    [
        weeks(),
        [quiet(point) for point in weeks()],  # nothing happened: zero bars, no line
        [point.model_copy(update={"median_hours": None}) for point in weeks()],
        weeks(1),
        [],
    ],
    ids=["busy", "empty weeks", "no medians", "one week", "no weeks"],
)
def test_the_chart_is_a_png_of_the_size_drawn(points: list[TrendPoint]) -> None:
    png = weekly_chart(points)
    assert png.startswith(PNG_MAGIC)
    assert len(png) > 5_000
    assert pixels(png) == (round(SIZE[1] * DPI), round(SIZE[0] * DPI))


def test_the_same_weeks_draw_the_same_chart() -> None:
    assert weekly_chart(weeks()) == weekly_chart(weeks())
