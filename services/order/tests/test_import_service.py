"""The order-import process through gRPC on PostgreSQL: uploads in chunks, jobs followed to the
end, orders written in their partner status, reports, dry runs, both policies, re-uploads."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import grpc
import pytest
from mall.order.v1 import order_import_pb2 as pb
from mall.order.v1 import order_import_pb2_grpc
from openpyxl import load_workbook
from sqlalchemy import func, select

from servicekit import grpc_client, grpc_server
from servicekit.errors import violations_from_trailers
from servicekit.testing import outbox_events, wait_until

from .. import privacy
from ..importing.columns import COLUMNS
from ..models import ImportedOrder, ImportRow, Order, OrderLine, OrderStatusChange
from .import_helpers import csv_bytes, line, seed_skus, xlsx_bytes

STAFF = [("x-mall-user-id", "staff-1"), ("x-mall-roles", "operator")]
PARTNER = [("x-mall-user-id", "acme"), ("x-mall-roles", "partner")]


@pytest.fixture
def importer(runtime, monkeypatch, tmp_path):
    monkeypatch.setenv("MALL_ORDER_IMPORT_SPOOL_DIR", str(tmp_path))
    monkeypatch.setenv("MALL_MEMBER_GRPC_TARGET", "127.0.0.1:1")  # member is down here
    seed_skus(runtime)
    server = grpc_server.build_server("order", port=0, host="127.0.0.1", with_relay=False,
                                      part="import")
    stub = order_import_pb2_grpc.OrderImportStub(
        grpc_client.channel("order", target=f"127.0.0.1:{server.port}"))
    yield stub
    server.stop()


def upload(stub, data: bytes, *, md=STAFF, key="", chunk=1000, **meta):
    meta.setdefault("partner", "acme" if md is STAFF else "")
    meta.setdefault("filename", "orders.csv")

    def messages():
        yield pb.UploadChunk(meta=pb.UploadMeta(**meta))
        for start in range(0, len(data), chunk):
            yield pb.UploadChunk(data=data[start:start + chunk])

    metadata = list(md) + ([("idempotency-key", key)] if key else [])
    return stub.UploadFile(messages(), metadata=metadata, timeout=30)


def finished(stub, job, md=STAFF) -> pb.ImportJob:
    result = {}

    def done():
        result["job"] = stub.GetImportJob(pb.GetImportJobRequest(job_id=job.job_id), metadata=md)
        return result["job"].finished

    wait_until(done, timeout=30)
    return result["job"]


def report_rows(stub, job, md=STAFF, **kw) -> list[list[str]]:
    data = b"".join(c.data for c in stub.GetImportReport(
        pb.GetImportReportRequest(job_id=job.job_id, **kw), metadata=md))
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_a_clean_file_imports_orders_in_their_partner_status(importer, runtime):
    data = csv_bytes([line("A", sku="BRA-75B-BLK", qty="1", price="199", fee="10",
                           order_total="308.00", status="已完成"),
                      line("A", sku="BRF-M-NUDE", qty="1", price="99", fee="10",
                           order_total="308.00", status="已完成"),
                      line("B", status="shipped", phone="+86 139-0013-9000")], encoding="gbk")
    job = finished(importer, upload(importer, data, chunk=100))
    assert (job.status, job.encoding, job.format) == ("done", "gb18030", "csv")
    assert (job.counts.rows_total, job.counts.rows_imported, job.counts.orders_imported) == (3, 3, 2)
    with runtime.transaction() as session:
        orders = {o.channel + o.status: o for o in session.scalars(
            select(Order).where(Order.import_batch_id == job.job_id))}
        a = orders["import:acmecompleted"]
        assert (a.payable_fen, a.shipping_fee_fen, a.list_total_fen) == (30800, 1000, 29800)
        assert a.member_id == "" and a.paid_at is not None
        assert session.scalar(select(func.count()).select_from(OrderLine)
                              .where(OrderLine.order_id == a.id)) == 2
        history = session.execute(select(OrderStatusChange.to_status, OrderStatusChange.actor)
                                  .where(OrderStatusChange.order_id == a.id)
                                  .order_by(OrderStatusChange.id)).all()
        assert history == [(s, "import:acme") for s in ("paid", "shipped", "delivered", "completed")]
        address = privacy.open_address(a.id, a.address_sealed)
        assert (address.recipient, address.phone, address.district) == ("张三", "13800138000", "南山区")
        assert "13800138000" not in a.address_sealed
        assert orders["import:acmeshipped"].status == "shipped"
    (batch,) = outbox_events(runtime, "order.imported_batch")
    assert batch["data"]["batchId"] == job.job_id
    assert {o["externalId"] for o in batch["data"]["orders"]} == {"A", "B"}
    assert all(o["batchId"] == job.job_id for o in batch["data"]["orders"])


def test_reject_file_imports_nothing_and_reports_each_error_beside_its_row(importer, runtime):
    data = csv_bytes([line("A"), line("B", qty="二"), line("C", phone="12345")])
    job = finished(importer, upload(importer, data, error_policy="reject_file"))
    assert job.status == "rejected" and job.counts.rows_error == 2
    assert job.counts.orders_imported == 0
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
    rows = report_rows(importer, job)
    assert rows[0][0].startswith("# ")
    header, body = rows[1], rows[2:]
    errors = header.index("错误说明 errors")
    by_row = {r[header.index("导入行号 report_row")]: r for r in body}
    assert '数量 "二" 不是整数,请填写阿拉伯数字,如 2' in by_row["3"][errors]
    assert by_row["3"][header.index("数量 quantity")] == "二"       # the cells beside the error
    assert "13800138000" in by_row["4"][errors]
    assert by_row["2"][header.index("导入状态 import_status")].startswith("校验通过")


def test_import_valid_imports_the_good_orders_and_blocks_the_rest_of_a_bad_one(importer, runtime):
    data = csv_bytes([line("A"), line("B"), line("B", sku="NOPE"), line("C", time="46348")])
    job = finished(importer, upload(importer, data, error_policy="import_valid"))
    assert job.status == "done"
    assert (job.counts.orders_imported, job.counts.orders_invalid) == (2, 1)
    assert (job.counts.rows_error, job.counts.rows_blocked, job.counts.rows_imported) == (1, 1, 2)
    problems = report_rows(importer, job, problems_only=True)
    assert [r[-5] for r in problems[2:]] == ["3", "4"]   # row numbers as the spreadsheet shows


def test_a_dry_run_checks_everything_and_writes_no_order(importer, runtime):
    job = finished(importer, upload(importer, csv_bytes([line("A"), line("B", qty="0")]),
                                    dry_run=True, error_policy="import_valid"))
    assert job.status == "done" and job.dry_run
    assert (job.counts.rows_valid, job.counts.rows_error, job.counts.orders_imported) == (1, 1, 0)
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
        assert session.scalar(select(func.count()).select_from(ImportedOrder)) == 0


def test_corrected_rows_uploaded_again_import_only_what_was_not_imported(importer, runtime):
    first = finished(importer, upload(importer, csv_bytes([line("A"), line("B", qty="二")]),
                                      error_policy="import_valid"))
    assert first.counts.orders_imported == 1
    again = finished(importer, upload(importer, csv_bytes([line("A"), line("B", qty="2")]),
                                      error_policy="reject_file"))
    assert again.status == "done"
    assert (again.counts.orders_imported, again.counts.orders_skipped) == (1, 1)
    rows = report_rows(importer, again)
    status = rows[1].index("导入状态 import_status")
    assert [r[status] for r in rows[2:]] == ["已存在,跳过 already imported", "已导入 imported"]
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 2


def test_the_same_idempotency_key_gets_the_same_job_and_another_file_is_refused(importer):
    data = csv_bytes([line("A")])
    first = upload(importer, data, key="batch-2026-11-23")
    assert upload(importer, data, key="batch-2026-11-23").job_id == first.job_id
    with pytest.raises(grpc.RpcError) as err:
        upload(importer, csv_bytes([line("Z")]), key="batch-2026-11-23")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert finished(importer, first).counts.orders_imported == 1


@pytest.mark.parametrize("data,rule", [(b"\x00\x01\x02\x03", "format"),
                                       ("订单号,客户\nA,B\n".encode(), "header"),
                                       (b"", "empty")])
def test_an_unreadable_file_is_refused_at_once_and_nothing_is_recorded(importer, runtime, data, rule):
    with pytest.raises(grpc.RpcError) as err:
        upload(importer, data)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.rule for v in violations_from_trailers(err.value.trailing_metadata())] == [rule]
    with runtime.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ImportRow)) == 0


def test_a_file_over_the_size_limit_is_refused(importer, monkeypatch):
    monkeypatch.setenv("MALL_ORDER_IMPORT_MAX_BYTES", "500")
    with pytest.raises(grpc.RpcError) as err:
        upload(importer, csv_bytes([line(str(n)) for n in range(20)]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "over the limit" in err.value.details()


def test_an_excel_file_with_a_mapping_profile(importer, runtime):
    importer.SaveImportProfile(pb.ImportProfile(
        partner="acme", name="erp", column_map={"单号": "external_order_id"},
        sku_map={"ACME-1": "BRA-75B-BLK"}, status_map={"已出库": "shipped"}), metadata=STAFF)
    header = ["单号"] + [c.header for c in COLUMNS if c.name != "external_order_id"]
    values = line("X-1", sku="ACME-1", status="已出库", time=datetime(2026, 11, 20, 9, 0))
    row = ["X-1"] + [v for k, v in values.items() if k != "external_order_id"]
    job = finished(importer, upload(importer, xlsx_bytes([row], header=header), profile="erp",
                                    filename="orders.xlsx"))
    assert (job.status, job.format, job.counts.orders_imported) == ("done", "xlsx", 1)
    with runtime.transaction() as session:
        order = session.scalar(select(Order).where(Order.import_batch_id == job.job_id))
        assert order.status == "shipped"


def test_a_partner_sees_only_its_own_jobs_and_cannot_import_for_another(importer):
    job = upload(importer, csv_bytes([line("A")]), md=PARTNER)
    assert job.partner == "acme"
    finished(importer, job, md=PARTNER)
    other = [("x-mall-user-id", "globex"), ("x-mall-roles", "partner")]
    with pytest.raises(grpc.RpcError) as err:
        importer.GetImportJob(pb.GetImportJobRequest(job_id=job.job_id), metadata=other)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        upload(importer, csv_bytes([line("A")]), md=other, partner="acme")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        upload(importer, csv_bytes([line("A")]), md=[("x-mall-user-id", "m-1")])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_reports_and_templates_come_as_excel_too(importer):
    job = finished(importer, upload(importer, csv_bytes([line("A", qty="二")])))
    data = b"".join(c.data for c in importer.GetImportReport(
        pb.GetImportReportRequest(job_id=job.job_id, format="xlsx"), metadata=STAFF))
    book = load_workbook(io.BytesIO(data), read_only=True)
    errors = list(book["错误 errors"].iter_rows(values_only=True))
    assert errors[1][:4] == (2, "数量 quantity", "二", "integer")
    template = b"".join(c.data for c in importer.GetImportTemplate(
        pb.GetImportTemplateRequest(format="xlsx"), metadata=STAFF))
    assert template[:2] == b"PK"
