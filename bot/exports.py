"""Export files: an export's rows written as CSV, JSON lines or Parquet, batch by batch, with a
progress bar on stderr when it is a terminal."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from disputes.exports import Column, Kind, Row, Stream


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC, always to the microsecond, so the text sorts as the times do."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Writer(Protocol):
    def write(self, rows: Sequence[Row]) -> None: ...

    def close(self) -> None: ...


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...), a DDE
# command). Customers and order systems write some of the text exported.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


NUMBER = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?")


def inert(value: str) -> str:
    """Text a spreadsheet shows as it is: an apostrophe before a formula's first character (a
    number such as -0.25, which a spreadsheet reads as the number, is left as it is)."""
    if value.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


class CsvWriter:
    """A header of the column names, then a line per row; an empty cell is no value, a text
    cell a spreadsheet would run as a formula starts with an apostrophe, and a line end in a
    cell is written as "\n" (quoted)."""

    def __init__(self, target: IO[bytes], columns: Sequence[Column]) -> None:
        self.text = io.TextIOWrapper(target, encoding="utf-8", newline="")
        self.csv = csv.writer(self.text, lineterminator="\n")  # None is written as ""
        self.csv.writerow(column.name for column in columns)
        self.plain = _times_as_text(columns)
        self.texts = [i for i, column in enumerate(columns) if column.kind is Kind.TEXT]

    def write(self, rows: Sequence[Row]) -> None:
        self.csv.writerows(map(self._cells, rows))

    def _cells(self, row: Row) -> list[object]:
        values = self.plain(row)
        for index in self.texts:
            value = values[index]
            if isinstance(value, str):
                # csv quotes a cell holding "\n" but not one holding a bare "\r", which
                # readers take for the end of the line: every line end in a cell is "\n".
                values[index] = inert(value).replace("\r\n", "\n").replace("\r", "\n")
        return values

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the target is the caller's to close (it may be stdout)


def _times_as_text(columns: Sequence[Column]) -> Callable[[Row], list[object]]:
    """Rows as text formats hold them: times in ISO 8601, the rest as they are."""
    times = [index for index, column in enumerate(columns) if column.kind is Kind.TIME]

    def plain(row: Row) -> list[object]:
        values = list(row)
        for index in times:
            if values[index] is not None:
                values[index] = iso(values[index])
        return values

    return plain


class JsonLinesWriter:
    """One JSON object per line, keyed by column name; no value is null."""

    def __init__(self, target: IO[bytes], columns: Sequence[Column]) -> None:
        self.text = io.TextIOWrapper(target, encoding="utf-8", newline="\n")
        self.names = [column.name for column in columns]
        self.plain = _times_as_text(columns)
        self.encode = json.JSONEncoder(ensure_ascii=False).encode

    def write(self, rows: Sequence[Row]) -> None:
        for row in rows:
            record = dict(zip(self.names, self.plain(row), strict=True))
            self.text.write(self.encode(record) + "\n")

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


_ARROW_TYPES = {
    Kind.TEXT: pa.string(),
    Kind.INT: pa.int64(),
    Kind.TIME: pa.timestamp("us", tz="UTC"),
}


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(column.name, _ARROW_TYPES[column.kind]) for column in columns])


class ParquetWriter:
    """A row group per batch, written as it arrives, under an explicit schema."""

    def __init__(self, target: IO[bytes], columns: Sequence[Column]) -> None:
        self.schema = arrow_schema(columns)
        self.parquet = pq.ParquetWriter(target, self.schema)

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        arrays = [
            pa.array(values, type=field.type)
            for values, field in zip(zip(*rows, strict=True), self.schema, strict=True)
        ]
        self.parquet.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.parquet.close()


_WRITERS: dict[Format, Callable[[IO[bytes], Sequence[Column]], Writer]] = {
    Format.CSV: CsvWriter,
    Format.JSONL: JsonLinesWriter,
    Format.PARQUET: ParquetWriter,
}


async def write_export(stream: Stream, form: Format, output: Path | None, label: str) -> int:
    """Write every row of `stream` to `output` (stdout when None); returns how many."""
    written = 0
    with (
        _destination(output) as target,
        tqdm(
            total=stream.total,
            desc=label,
            unit=" rows",
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
        ) as bar,
    ):
        writer: Writer = _WRITERS[form](target, stream.columns)
        try:
            async with contextlib.aclosing(stream.batches) as batches:
                async for batch in batches:
                    writer.write(batch)
                    written += len(batch)
                    bar.update(len(batch))
        finally:
            writer.close()
    return written


@contextlib.contextmanager
def _destination(output: Path | None) -> Iterator[IO[bytes]]:
    """stdout, or a file that appears under its name only once it is whole."""
    if output is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("wb") as target:
            yield target
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
