"""Reading an uploaded file as rows, streamed from disk so a 100,000-row file is never in memory.

- The format is decided by the bytes, not the name: a ZIP is `.xlsx` (openpyxl's read-only mode
  streams the sheet), an OLE2 file is an old `.xls` (refused: save as .xlsx or CSV), anything
  with NUL bytes is not a spreadsheet at all; the rest is CSV (delimiter sniffed: , ; tab).
- CSV encodings: a BOM decides (UTF-8 or UTF-16); otherwise strict UTF-8 is tried over the whole
  file, then GB18030 (a superset of GBK, what Chinese Excel saves); neither: a clear error.
- The header row is the first of the first ten rows that matches the template or the partner's
  mapping (a title row above it is skipped); rows are numbered as a spreadsheet shows them.
- Small files can declare huge work: an .xlsx is a ZIP whose members may inflate a thousandfold
  (a 0.2 MB bomb to 200 MB) and whose sheet may place one cell at row 1,048,576 of 16,384
  columns (openpyxl pads every row between). Before openpyxl reads anything, the ZIP's declared
  sizes and ratios are checked (zipfile stops at a member's declared size, so they cannot lie);
  then at most MAX_COLUMNS columns and MAX_ROWS rows are read, and content past them refuses
  the file ("more than N rows; split it"), whether or not the sheet declares its size: rows past
  the limit are looked through for a filled cell, never silently left unread.
"""
from __future__ import annotations

import codecs
import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from servicekit.config import env_int

from .columns import HeaderMatch, match_headers

HEADER_SEARCH_ROWS = 10
_CHUNK = 1 << 20
MAX_COLUMNS = 100            # the template has 20; a partner's own layout a few dozen
SHEET_MAX_ROWS = 1_048_576   # Excel's last row: no sheet has more
MAX_RATIO = 100              # a sheet's XML packs 5-20 to 1; a bomb 1,000 to 1
_RATIO_FROM_BYTES = 1 << 20  # tiny members (styles, a few empty cells) pack better: not judged


def max_rows() -> int:
    """Rows a file may have, its header and title rows included."""
    return env_int("IMPORT_MAX_ROWS", 100_010, "order")


def max_unpacked_bytes() -> int:
    """What an .xlsx may inflate to, all members together (a 100,000-row sheet: ~100 MB)."""
    return env_int("IMPORT_MAX_UNPACKED_BYTES", 256 * 1024 * 1024, "order")


class FileProblem(Exception):
    """The file as a whole cannot be imported: nothing is; `rule` names why."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass
class OpenedFile:
    format: str          # csv | xlsx
    encoding: str        # csv only: utf-8-sig | utf-8 | gb18030 | utf-16
    header: HeaderMatch
    header_row: int      # 1-based
    path: Path
    column_map: dict

    def rows(self) -> Iterator[tuple[int, list]]:
        """(row number, cells) after the header; empty rows skipped. Re-readable."""
        source = _xlsx_rows(self.path) if self.format == "xlsx" else _csv_rows(self.path,
                                                                                self.encoding)
        for number, cells in source:
            if number <= self.header_row:
                continue
            if any(c is not None and str(c).strip() for c in cells):
                yield number, cells


def sniff_format(path: Path, filename: str = "", hint: str = "") -> str:
    with open(path, "rb") as f:
        head = f.read(8192)
    if not head:
        raise FileProblem("empty", "文件是空的 the file is empty")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("format", "这是旧版 .xls 文件, 请在 Excel 中另存为 .xlsx 或 CSV(UTF-8) "
                                    "(an old .xls workbook: save it as .xlsx or CSV)")
    if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and b"\x00" in head:
        raise FileProblem("format", f"{filename or '文件'} 不是 CSV 或 Excel(.xlsx) 文件 "
                                    "(not a CSV or Excel .xlsx file)")
    return "csv"


def detect_encoding(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(path, "utf-8") is None:
        return "utf-8"
    failure = _decodes(path, "gb18030")
    if failure is None:
        return "gb18030"
    raise FileProblem("encoding", f"无法识别文件编码: 既不是 UTF-8 也不是 GBK/GB18030(第 {failure} "
                                  "字节附近). 请另存为 CSV UTF-8 (the file is neither UTF-8 nor "
                                  "GBK/GB18030; save it as CSV UTF-8)")


def _decodes(path: Path, encoding: str) -> int | None:
    """None when the whole file decodes strictly; else the offset of the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                return offset + err.start
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset
    return None


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list]]:
    with open(path, encoding=encoding, newline="") as f:
        sample = f.read(8192)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(f, dialect)
        try:
            for number, cells in enumerate(reader, start=1):
                yield number, cells
        except csv.Error as err:
            raise FileProblem("csv", f"CSV 格式错误, 第 {reader.line_num} 行: {err} "
                                     f"(malformed CSV at line {reader.line_num})") from err


def check_zip(path: Path) -> None:
    """Refuses an .xlsx whose members would inflate past the limits, before anything is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise FileProblem("format", "无法读取 Excel 文件, 请确认是 .xlsx 格式 (not a readable "
                                    f".xlsx workbook: {type(err).__name__})") from err
    total = sum(m.file_size for m in members)
    if total > max_unpacked_bytes():
        raise FileProblem("unpacked_size", f"Excel 文件解压后 {total // 2**20} MB, 超过上限 "
                                           f"{max_unpacked_bytes() // 2**20} MB, 请拆分文件 (the "
                                           "workbook unpacks past the limit; split the file)")
    for m in members:
        if m.file_size > _RATIO_FROM_BYTES and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise FileProblem("compression_ratio", f"Excel 文件中 {m.filename[:100]} 的压缩比 "
                                                   f"{m.file_size // max(m.compress_size, 1)}:1 "
                                                   f"异常 (over {MAX_RATIO}:1: not an ordinary "
                                                   "workbook)")


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list]]:
    check_zip(path)
    handle = open(path, "rb")  # a file object: openpyxl would judge a path by its extension
    try:
        book = load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as err:
        handle.close()
        raise FileProblem("format", "无法读取 Excel 文件, 请确认是 .xlsx 格式 (not a readable "
                                    f".xlsx workbook: {type(err).__name__})") from err
    try:
        sheet = book.worksheets[0]
        limit = max_rows()
        _check_declared_size(sheet, limit)
        # Columns bounded: openpyxl pads each row to the width asked. Rows to the sheet's last
        # possible one, whatever the <dimension> says or whether there is one: openpyxl stops
        # at the max_row it is given and drops what follows without a word (a sheet with no
        # <dimension> whose row past the limit was empty had the rest of its rows silently not
        # read). Past the limit only the check for a filled cell runs (the padding rows openpyxl
        # yields between two far rows are one shared empty tuple: a C-speed count each).
        rows = sheet.iter_rows(values_only=True, max_row=SHEET_MAX_ROWS, max_col=MAX_COLUMNS + 1)
        for number, cells in enumerate(rows, start=1):
            if number > limit:
                if cells.count(None) != len(cells) and any(_filled(c) for c in cells):
                    raise FileProblem("max_rows", f"文件超过 {limit} 行, 请拆分文件 (the file has more "
                                                  f"than {limit} rows: row {number} has cells; "
                                                  "split it)")
                continue
            if len(cells) > MAX_COLUMNS and _filled(cells[MAX_COLUMNS]):
                raise FileProblem("max_columns", f"第 {number} 行超过 {MAX_COLUMNS} 列, 请删除多余的"
                                                 f"列 (row {number} has cells past column "
                                                 f"{MAX_COLUMNS})")
            yield number, list(cells[:MAX_COLUMNS])
    finally:
        book.close()
        handle.close()


def _check_declared_size(sheet, limit: int) -> None:
    """The sheet's own <dimension> (when it has one) past the limits: refused before reading."""
    declared_rows, declared_columns = sheet.max_row or 0, sheet.max_column or 0
    if declared_columns > MAX_COLUMNS:
        raise FileProblem("max_columns", f"工作表声明了 {declared_columns} 列, 最多 {MAX_COLUMNS} 列, "
                                         "请删除多余的列 (the sheet declares "
                                         f"{declared_columns} columns; at most {MAX_COLUMNS})")
    if declared_rows > limit:
        raise FileProblem("max_rows", f"工作表声明了 {declared_rows} 行, 最多 {limit} 行, 请拆分文件 "
                                      f"(the sheet declares {declared_rows} rows; at most {limit})")


def _filled(cell) -> bool:
    return cell is not None and str(cell).strip() != ""


def open_file(path: Path, *, filename: str = "", hint: str = "",
              column_map: dict | None = None) -> OpenedFile:
    """Decides format, encoding and header row, or raises FileProblem."""
    fmt = sniff_format(path, filename, hint)
    encoding = detect_encoding(path) if fmt == "csv" else ""
    source = _xlsx_rows(path) if fmt == "xlsx" else _csv_rows(path, encoding)
    first: tuple[int, HeaderMatch] | None = None
    try:
        for number, cells in source:
            if number > HEADER_SEARCH_ROWS:
                break
            if not any(c is not None and str(c).strip() for c in cells):
                continue
            match = match_headers([str(c) if c is not None else "" for c in cells], column_map)
            if match.ok:
                return OpenedFile(fmt, encoding, match, number, path, dict(column_map or {}))
            if first is None or len(match.fields) > len(first[1].fields):
                first = (number, match)
    finally:
        close = getattr(source, "close", None)
        if close:
            close()
    if first is None:
        raise FileProblem("empty", "文件中没有数据行 the file has no rows")
    raise FileProblem("header", f"第 {first[0]} 行表头无法匹配模板或映射方案 (row {first[0]}: the "
                                f"header matches neither the template nor a mapping): "
                                f"{first[1].problem()}")
