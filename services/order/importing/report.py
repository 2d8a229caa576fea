"""The report of a job: a summary line, then the file's own columns for every row with the row's
status and errors beside them, as CSV (UTF-8 with BOM, for Chinese Excel) or Excel (openpyxl's
write-only workbook, a second sheet for the summary and one line per error). Streamed: rows come
from the database a batch at a time.

Corrected rows can be uploaded again as they are: the summary line sits above the header (the
reader skips it) and the report's own columns are ignored as unknown.
"""
from __future__ import annotations

import csv
import io
import tempfile
from typing import Iterator

from openpyxl import Workbook
from sqlalchemy.orm import Session

from ..models import ImportJob
from .jobs import report_rows

STATUS_WORDS = {"imported": "已导入 imported", "skipped": "已存在,跳过 already imported",
                "valid": "校验通过 valid", "error": "有错误 error",
                "blocked": "同订单其他行有错误 order has errors"}
OWN_COLUMNS = ["导入行号 report_row", "导入状态 import_status", "所属外部单号 report_external_id",
               "商城订单号 mall_order_no", "错误说明 errors"]
CHUNK = 64 * 1024


def summary(job: ImportJob) -> list[tuple[str, object]]:
    return [
        ("任务 job", job.id), ("文件 file", job.filename), ("状态 status", job.status),
        ("试运行 dry_run", "是 yes" if job.dry_run else "否 no"),
        ("错误策略 error_policy", job.error_policy),
        ("总行数 rows", job.rows_total), ("无误行 valid rows", job.rows_valid),
        ("错误行 rows with errors", job.rows_error),
        ("受牵连行 rows blocked by their order", job.rows_blocked),
        ("已导入行 rows imported", job.rows_imported),
        ("已存在行 rows already imported", job.rows_skipped),
        ("订单数 orders", job.orders_total), ("导入订单 orders imported", job.orders_imported),
        ("已存在订单 orders already imported", job.orders_skipped),
        ("有错订单 orders with errors", job.orders_invalid),
        ("说明 problem", job.problem),
    ]


def _error_text(errors) -> str:
    return "\n".join(f"[{e.column}] \"{e.value}\": {e.message} ({e.rule})" for e in errors)


def _line(job: ImportJob, row, cells: list, errors) -> list:
    """The file's cells (blank for rows imported: only problems keep theirs) and the outcome."""
    width = len(job.headers)
    own = list(cells[:width]) + [""] * (width - len(cells[:width]))
    return own + [row.row_no, STATUS_WORDS[row.status], row.external_id, row.order_no,
                  _error_text(errors)]


def csv_report(session: Session, job: ImportJob, problems_only: bool = False) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(["# " + "; ".join(f"{k}: {v}" for k, v in summary(job) if v != "")])
    writer.writerow(list(job.headers) + OWN_COLUMNS)
    for row, cells, errors in report_rows(session, job, problems_only):
        writer.writerow(_line(job, row, cells, errors))
        if out.tell() >= CHUNK:
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8")


def xlsx_report(session: Session, job: ImportJob, problems_only: bool = False) -> Iterator[bytes]:
    """Write-only workbook saved to a temporary file, then streamed back."""
    book = Workbook(write_only=True)
    rows = book.create_sheet("报告 report")
    rows.append(list(job.headers) + OWN_COLUMNS)
    errors_sheet = book.create_sheet("错误 errors")
    errors_sheet.append(["行号 row", "列 column", "值 value", "规则 rule", "建议 suggestion"])
    for row, cells, errors in report_rows(session, job, problems_only):
        rows.append(_line(job, row, cells, errors))
        for e in errors:
            errors_sheet.append([row.row_no, e.column, e.value, e.rule, e.message])
    totals = book.create_sheet("汇总 summary")
    for key, value in summary(job):
        totals.append([key, value])
    with tempfile.TemporaryFile() as spool:
        book.save(spool)
        spool.seek(0)
        while chunk := spool.read(CHUNK):
            yield chunk
