"""Ledger files (台账) for Excel: .xlsx and UTF-8 CSV, safe against formula injection, and the
one download response every ledger export answers with."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from flask import Response
from flask import stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from app.core import clock
from app.core import replica
from app.core.errors import BadRequest
from app.scoping import scope_for


def xlsx_cell(ws, value: Any):
    """A value for the sheet: text never becomes a formula, and illegal characters go."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):
        # openpyxl would store "=..." as a formula that Excel runs on opening.
        cell = WriteOnlyCell(ws, value)
        cell.data_type = "s"
        return cell
    return value


def xlsx_bytes(
    sheet: str,
    columns: tuple[tuple[str, int], ...],
    rows: Iterable[tuple],
    total: int | None = None,
) -> bytes:
    """A workbook of (title, width) columns: bold frozen header row, sized columns, a filter.
    `rows` may be any iterable when `total` (the filter's row count) is given: the rows are then
    written as they come (the background export, app/cases/export_jobs.py)."""
    if total is None:
        rows = list(rows)
        total = len(rows)
    workbook = Workbook(write_only=True)  # rows stream to a temporary file, not kept as cells
    ws = workbook.create_sheet(sheet)
    for index, (_, width) in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{total + 1}"
    bold = Font(bold=True)
    header = []
    for title, _ in columns:
        cell = WriteOnlyCell(ws, title)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in rows:
        ws.append([xlsx_cell(ws, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_value(value: Any) -> str:
    """A value for the CSV, neutralised against formula injection when Excel opens it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    value = str(value)
    if value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def csv_bytes(headers: tuple[str, ...], rows: list[tuple]) -> bytes:
    """CSV in UTF-8 with a BOM (so Excel in China reads the Chinese correctly)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([csv_value(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def csv_chunks(headers: tuple[str, ...], rows, batch: int = 2000):
    """The same bytes as `csv_bytes`, in pieces of `batch` rows as the rows come (streamed)."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(headers)
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_value(v) for v in row])
        if count % batch == 0:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"


def ledger_file(
    fmt: str,
    *,
    sheet: str,
    columns: tuple[tuple[str, int], ...],
    rows,
    ascii_name: str,
):
    """A ledger as a download: .xlsx or CSV (UTF-8 with BOM), never cached.

    `sheet` is the Chinese title (the sheet's and the file's name), `ascii_name` the plain
    name old clients get (e.g. "gridgov-cases"); the name is dated now (Asia/Shanghai, to the
    minute). Only the date is in the name, never a person or a filter. `rows` is a list, or
    for a CSV an iterator: then the body streams as the rows come (the request's database
    session stays open until the last row).
    """
    if fmt == "xlsx":
        body, mimetype = xlsx_bytes(sheet, columns, rows), XLSX_MIMETYPE
    elif isinstance(rows, list):
        body = csv_bytes(tuple(title for title, _ in columns), rows)
        mimetype = f"{CSV_MIMETYPE}; charset=utf-8"
    else:
        body = stream_with_context(csv_chunks(tuple(title for title, _ in columns), rows))
        mimetype = f"{CSV_MIMETYPE}; charset=utf-8"
    # content_type, not mimetype: Werkzeug appends "; charset=utf-8" to a text/* mimetype again.
    return attachment(Response(body, content_type=mimetype), sheet, ascii_name, fmt)


def attachment(response: Response, sheet: str, ascii_name: str, fmt: str) -> Response:
    """A download's headers: the dated file name (ASCII and UTF-8), never cached."""
    stamp = clock.now().astimezone(clock.SHANGHAI).strftime("%Y%m%d-%H%M")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{ascii_name}-{stamp}.{fmt}"; '
        f"filename*=UTF-8''{quote(f'{sheet}-{stamp}.{fmt}')}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def audit_region(args: dict, user) -> str:
    """The region an export is audited under: the narrowest filtered, else the user's own."""
    return args.get("grid_cell") or args.get("region") or user.region.code


def _significant(code: str) -> str:
    """A region code's significant digits (省 2, 市 4, county 6, town 9, village 12; a cell's
    15)."""
    if len(code) == 12 and code.endswith("0000000000"):
        return code[:2]
    if len(code) == 12 and code.endswith("00000000"):
        return code[:4]
    if len(code) == 12 and code.endswith("000000"):
        return code[:6]
    if len(code) == 12 and code.endswith("000"):
        return code[:9]
    return code


def regions_audited(args: dict, user) -> dict:
    """What an export asked for and what it could get: the requested region (or cell) and the
    effective one — the requested one inside the caller's scope, the caller's own when it asked
    for more (a county code from a town), none when it lies outside."""
    requested = args.get("grid_cell") or args.get("region")
    own = user.region.code
    scope = scope_for(user)
    if requested is None:
        effective = own
    elif scope.contains(requested):
        effective = requested
    elif scope.prefix.startswith(_significant(requested)):
        effective = own
    else:
        effective = None
    return {"requested_region": requested, "effective_region": effective}


def capped_rows(stmt, most: int, refusal: str) -> list:
    """The ledger's rows, at most `most`: more is a 400 with `refusal` (and `max_rows`)."""
    rows = replica.session().execute(stmt.limit(most + 1)).all()  # the standby, if any
    if len(rows) > most:
        raise BadRequest(refusal, errors={"max_rows": most})
    return rows
