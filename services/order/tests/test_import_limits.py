"""Small spreadsheets that declare huge work are refused before they cost it (issue 15): an .xlsx
inflating a thousandfold, or past the unpacked limit, a sheet of 16,384 columns or a million
rows. Each is a FileProblem naming its rule, at upload (nothing recorded)."""
from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import grpc
import pytest
from openpyxl import Workbook

from servicekit.errors import violations_from_trailers
from services.order.importing import reading

from .import_helpers import HEADER, cells, line, xlsx_bytes
from .test_import_service import importer, upload  # noqa: F401


def sheet_with_cell_at(row: int, column: int) -> bytes:
    """The template's header and one cell far away: a few KB declaring row x column cells."""
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.cell(row=row, column=column, value="x")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezipped(data: bytes, *, drop_dimension: bool = False, extra: dict[str, bytes] | None = None,
             level: int = 9) -> bytes:
    """`data` (an .xlsx) with its sheet's <dimension> removed or members added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if drop_dimension and item.filename.startswith("xl/worksheets/"):
                body = re.sub(rb"<dimension[^>]*/>", b"", body)
            target.writestr(item.filename, body)
        for name, body in (extra or {}).items():
            target.writestr(name, body)
    return out.getvalue()


def refusal(tmp_path: Path, data: bytes) -> tuple[str, float]:
    path = tmp_path / "upload"
    path.write_bytes(data)
    started = time.process_time()
    with pytest.raises(reading.FileProblem) as refused:
        opened = reading.open_file(path)
        for _ in opened.rows():
            pass
    return refused.value.rule, time.process_time() - started


def test_a_sheet_declaring_16384_columns_is_refused_before_it_is_read(tmp_path):
    data = sheet_with_cell_at(10_000, 16_384)
    assert len(data) < 10_000
    rule, seconds = refusal(tmp_path, data)
    assert rule == "max_columns" and seconds < 1


def test_a_sheet_declaring_a_million_rows_is_refused_before_it_is_read(tmp_path):
    rule, seconds = refusal(tmp_path, sheet_with_cell_at(1_048_576, 1))
    assert rule == "max_rows" and seconds < 1


def test_without_a_dimension_only_the_bounded_part_is_read(tmp_path, monkeypatch):
    """A crafted sheet with no <dimension>: at most MAX_COLUMNS columns are read, and a cell
    past the last column read refuses the file."""
    data = rezipped(sheet_with_cell_at(10_000, 16_384), drop_dimension=True)
    path = tmp_path / "upload"
    path.write_bytes(data)
    started = time.process_time()
    opened = reading.open_file(path)
    assert [cells for _, cells in opened.rows()] == []  # the far cell is past what is read
    assert time.process_time() - started < 2
    near = rezipped(sheet_with_cell_at(5, reading.MAX_COLUMNS + 1), drop_dimension=True)
    assert refusal(tmp_path, near)[0] == "max_columns"
    monkeypatch.setenv("MALL_ORDER_IMPORT_MAX_ROWS", "3")
    many = rezipped(xlsx_bytes([cells(line(str(n))) for n in range(5)]), drop_dimension=True)
    assert refusal(tmp_path, many)[0] == "max_rows"


def test_without_a_dimension_rows_past_the_limit_refuse_the_file_not_vanish(tmp_path, monkeypatch):
    """openpyxl stops at the row it is asked to stop at: with no <dimension>, a blank row at the
    limit's edge let every row after it go unread without a word (the import "succeeded" with
    part of the file)."""
    monkeypatch.setenv("MALL_ORDER_IMPORT_MAX_ROWS", "3")
    rows = [cells(line("A")), cells(line("B")), [None] * len(HEADER), [None] * len(HEADER),
            cells(line("C")), cells(line("D"))]
    gapped = rezipped(xlsx_bytes(rows), drop_dimension=True)
    path = tmp_path / "upload"
    path.write_bytes(gapped)
    with pytest.raises(reading.FileProblem) as refused:
        list(reading.open_file(path).rows())
    assert refused.value.rule == "max_rows"
    assert "more than 3 rows" in str(refused.value) and "split" in str(refused.value)
    # within the limit the same shape reads (its blank rows skipped)
    monkeypatch.setenv("MALL_ORDER_IMPORT_MAX_ROWS", "10")
    assert len(list(reading.open_file(path).rows())) == 4


def test_without_a_dimension_a_far_row_is_refused_quickly(tmp_path):
    far = rezipped(sheet_with_cell_at(1_048_576, 1), drop_dimension=True)
    rule, seconds = refusal(tmp_path, far)
    assert rule == "max_rows" and seconds < 3


def test_a_deflate_bomb_is_refused_by_its_ratio(tmp_path):
    bomb = rezipped(xlsx_bytes([cells(line("A"))]), extra={"xl/media/pad.bin": b"\0" * (50 << 20)})
    assert len(bomb) < 300_000
    rule, seconds = refusal(tmp_path, bomb)
    assert rule == "compression_ratio" and seconds < 1


def test_a_workbook_unpacking_past_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MALL_ORDER_IMPORT_MAX_UNPACKED_BYTES", str(1 << 20))
    import os
    big = rezipped(xlsx_bytes([cells(line("A"))]), extra={"xl/media/photo.bin": os.urandom(2 << 20)})
    assert refusal(tmp_path, big)[0] == "unpacked_size"


def test_an_ordinary_workbook_still_reads(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(xlsx_bytes([cells(line("A")), cells(line("B"))]))
    assert len(list(reading.open_file(path).rows())) == 2


def test_the_upload_is_refused_naming_the_file_and_its_rule(importer):  # noqa: F811
    with pytest.raises(grpc.RpcError) as err:
        upload(importer, sheet_with_cell_at(10_000, 16_384), filename="orders.xlsx")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.rule) for v in violations_from_trailers(err.value.trailing_metadata())] \
        == [("file", "max_columns")]
