"""Reading files and checking rows: the pure half of order import (no database)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.order.importing import columns, reading
from services.order.importing.rows import RowChecker, Tally

from .import_helpers import HEADER, NOW, cells, csv_bytes, find_sku, line, xlsx_bytes


def opened(tmp_path: Path, data: bytes, column_map=None) -> reading.OpenedFile:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return reading.open_file(path, column_map=column_map)


def check(file: reading.OpenedFile, **kw):
    checker = RowChecker(file.header, find_sku, now=NOW, **kw)
    tally = Tally()
    rows = []
    for row_no, row_cells in file.rows():
        parsed = checker.parse(row_no, row_cells)
        parsed.errors.extend(tally.add(parsed, file.header))
        rows.append(parsed)
    tally.finish(file.header)
    for order in tally.orders.values():
        for row_no, found in order.errors.items():
            next(r for r in rows if r.row_no == row_no).errors.extend(found)
    return rows, tally


@pytest.mark.parametrize("encoding,bom,expected", [("utf-8", False, "utf-8"),
                                                  ("utf-8", True, "utf-8-sig"),
                                                  ("gbk", False, "gb18030"),
                                                  ("gb18030", False, "gb18030")])
def test_csv_encodings_are_detected_and_read(tmp_path, encoding, bom, expected):
    file = opened(tmp_path, csv_bytes([line(name="欧阳娜娜", detail="科技园路 1 号")],
                                      encoding=encoding, bom=bom))
    assert file.format == "csv" and file.encoding == expected
    rows, _ = check(file)
    assert rows[0].errors == [] and rows[0].order.recipient == "欧阳娜娜"


def test_an_encoding_neither_utf8_nor_gb18030_is_refused(tmp_path):
    data = csv_bytes([line()]) + b"\x81\x30\xff\xff\n"
    with pytest.raises(reading.FileProblem) as problem:
        opened(tmp_path, data)
    assert problem.value.rule == "encoding" and "UTF-8" in problem.value.message


@pytest.mark.parametrize("data,rule", [(b"", "empty"), (b"\x00\x01\x02binary\x00", "format"),
                                       (b"\xd0\xcf\x11\xe0old xls", "format"),
                                       (b"PK\x03\x04not really a zip", "format")])
def test_what_is_not_csv_or_excel_is_refused_clearly(tmp_path, data, rule):
    with pytest.raises(reading.FileProblem) as problem:
        opened(tmp_path, data)
        list(opened(tmp_path, data).rows())
    assert problem.value.rule == rule


def test_a_header_matching_no_template_names_what_is_missing(tmp_path):
    with pytest.raises(reading.FileProblem) as problem:
        opened(tmp_path, "订单号,客户,货品\nA,B,C\n".encode())
    assert problem.value.rule == "header"
    assert "数量 quantity" in problem.value.message and "货品" in problem.value.message


def test_headers_in_chinese_english_or_both_and_a_title_row_above(tmp_path):
    english = [c.name for c in columns.COLUMNS]
    chinese = [c.label for c in columns.COLUMNS]
    for header in (english, chinese, HEADER):
        data = ("某某店铺订单导出 2026-11\n" + ",".join(header) + "\n" +
                ",".join(str(v) for v in cells(line())) + "\n").encode()
        file = opened(tmp_path, data)
        assert file.header_row == 2
        assert check(file)[0][0].errors == []


def test_a_partner_mapping_maps_their_headers_and_codes(tmp_path):
    theirs = ["单据编号", "付款时间", "交易状态", "买家", "联系手机", "收货地址", "商品编号", "件数",
              "成交价"]
    data = (",".join(theirs) + "\n" + "P-9,2026/11/20 08:00,交易成功,李四,+86 139-0013-9000,"
            "广东省广州市天河区体育西路 2 号,X-001,2,99.5\n").encode("gbk")
    column_map = dict(zip(theirs, ["external_order_id", "order_time", "status", "recipient",
                                   "phone", "address", "sku_code", "quantity", "unit_price"],
                          strict=True))
    file = opened(tmp_path, data, column_map)
    rows, _ = check(file, sku_map={"X-001": "BRF-M-NUDE"})
    row = rows[0]
    assert row.errors == []
    assert (row.order.province, row.order.city, row.order.district) == ("广东省", "广州市", "天河区")
    assert row.order.phone == "13900139000" and row.order.status == "completed"
    assert row.sku.sku_id == "sku-brief-m" and row.line_total_fen == 19900


def test_messy_values_are_cleaned(tmp_path):
    file = opened(tmp_path, csv_bytes([line(qty="２", price=" ￥1,299.50 ", phone="138 0013 8000 ",
                                            name="  张三 ", time="2026/11/22")]))
    row = check(file)[0][0]
    assert row.errors == []
    assert row.quantity == 2 and row.unit_price_fen == 129950 and row.line_total_fen == 259900
    assert row.order.recipient == "张三" and row.order.phone == "13800138000"
    assert row.order.order_time == datetime(2026, 11, 21, 16, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("written,quantity,rule", [
    ("2", 2, None), (" ３ ", 3, None), ("+3", 3, None), ("2.00", 2, None), ("٣", 3, None),
    ("0", 0, "positive"), ("-1", 0, "positive"), ("10000", 0, "max"), ("2.5", 0, "integer"),
    ("1e2", 0, "integer"), ("", 0, "required")])
def test_quantities_in_every_spelling(tmp_path, written, quantity, rule):
    row = check(opened(tmp_path, csv_bytes([line(qty=written)])))[0][0]
    assert row.quantity == quantity
    assert [e.rule for e in row.errors if e.column == "数量 quantity"] == ([rule] if rule else [])


def test_a_short_row_reads_its_missing_cells_as_empty(tmp_path):
    data = csv_bytes([line()]).decode().rstrip("\r\n")
    short = data + "\r\n" + ",".join(data.splitlines()[1].split(",")[:3]) + "\r\n"
    rows = check(opened(tmp_path, short.encode()))[0]
    assert rows[0].errors == []
    assert {e.rule for e in rows[1].errors} >= {"required"}
    assert "手机号 phone" in {e.column for e in rows[1].errors}


def test_every_bad_value_gets_column_value_rule_and_a_chinese_suggestion(tmp_path):
    file = opened(tmp_path, csv_bytes([line(qty="二", price="-5", phone="12345", time="昨天",
                                            sku="NOPE", status="退款中", city="", province="")]))
    errors = {e.rule: e for e in check(file)[0][0].errors}
    assert errors["integer"].column == "数量 quantity" and errors["integer"].value == "二"
    assert errors["integer"].message == '数量 "二" 不是整数,请填写阿拉伯数字,如 2'
    assert errors["non_negative"].column == "单价 unit_price"
    assert errors["mobile"].value == "12345" and "13800138000" in errors["mobile"].message
    assert errors["date"].value == "昨天" and "2026/11/22" in errors["date"].message
    assert errors["sku_unknown"].value == "NOPE"
    assert errors["status"].value == "退款中" and "已发货" in errors["status"].message
    assert {e.column for e in check(file)[0][0].errors if e.rule == "required"} == {"省 province",
                                                                                     "市 city"}


def test_excel_dates_numbers_and_serials_stream_from_xlsx(tmp_path):
    rows = [cells(line("X-1", time=datetime(2026, 11, 22, 10, 30), qty=2, price=199)),
            cells(line("X-2", time=46348, qty=1.0, price=99.9)),
            cells(line("X-3", time="46348.5", qty="3", price="10"))]
    file = opened(tmp_path, xlsx_bytes(rows))
    assert file.format == "xlsx"
    parsed = check(file)[0]
    assert [r.errors for r in parsed] == [[], [], []]
    assert parsed[0].order.order_time == datetime(2026, 11, 22, 2, 30, tzinfo=timezone.utc)
    assert parsed[1].order.order_time == datetime(2026, 11, 21, 16, 0, tzinfo=timezone.utc)
    assert parsed[2].order.order_time == datetime(2026, 11, 22, 4, 0, tzinfo=timezone.utc)
    assert parsed[1].unit_price_fen == 9990 and parsed[0].line_total_fen == 39800


def test_lines_of_one_order_are_grouped_and_checked_together(tmp_path):
    file = opened(tmp_path, csv_bytes([
        line("A", sku="BRA-75B-BLK", qty="1", price="199", fee="10", order_total="308"),
        line("B", order_total="199"),
        line("A", sku="BRF-M-NUDE", qty="1", price="99", fee="10", order_total="308"),  # apart
        line("C", order_total="150"),                                   # total wrong
        line("D"), line("D", phone="13900139000", sku="BRF-M-NUDE"),                    # conflicting order fields
        line("E"), line("E"),                                          # the same SKU twice
        line("F", qty="2", price="10", total="25"),                    # line total wrong
    ]))
    rows, tally = check(file)
    by_row = {r.row_no: {e.rule for e in r.errors} for r in rows}
    assert tally.orders["A"].rows == [2, 4] and by_row[2] == by_row[4] == set()
    assert by_row[5] == {"order_total"} and by_row[7] == {"order_conflict"}
    assert by_row[9] == {"duplicate_line"} and by_row[10] == {"line_total"}
    assert not tally.has_errors("A") and tally.has_errors("D") and tally.has_errors("E")


def test_the_template_reads_back_as_a_valid_file(tmp_path):
    for data in (columns.template_csv(), columns.template_xlsx()):
        file = opened(tmp_path, data)
        rows = check(file)[0]
        assert len(rows) == 1 and rows[0].errors == []
