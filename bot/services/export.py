"""The CSV format of `/post export`: one row per audit event. Pure rendering, no database.

RFC 4180 (the `csv` module, CRLF line ends), UTF-8 without a byte order mark. Post texts, comments and
provider errors are untrusted and the file is meant for spreadsheets, so a cell a spreadsheet would take for
a formula is prefixed with `'` (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

EXPORT_COLUMNS = (
    "post_id",
    "at",
    "actor",
    "action",
    "from_status",
    "to_status",
    "version",
    "detail",
    "post_text_first_line",
    "accounts",
)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportRow:
    post_id: int
    #: When it happened, UTC in ISO 8601 (`2026-11-21T12:00:00Z`).
    at: str
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    version: int | None
    detail: str | None
    post_text_first_line: str
    #: The post's accounts, as one readable cell.
    accounts: str


def neutralise(cell: str) -> str:
    """`cell` as a spreadsheet shows it as text, never evaluates it."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _cells(row: ExportRow) -> list[str]:
    values: list[object] = [
        row.post_id,
        row.at,
        row.actor,
        row.action,
        row.from_status,
        row.to_status,
        row.version,
        row.detail,
        row.post_text_first_line,
        row.accounts,
    ]
    return [
        "" if value is None else str(value) if isinstance(value, int) else neutralise(str(value))
        for value in values
    ]


def render_csv(rows: Iterable[ExportRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(_cells(row))
    return buffer.getvalue().encode("utf-8")
