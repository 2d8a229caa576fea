"""A partner's ERP imports orders through the deployed order-import process: staff issue its key,
it uploads a GBK spreadsheet signed with that key, the report names the bad row and how to fix
it, the good orders reach the staff desk and analytics, and a re-upload imports nothing twice."""
from __future__ import annotations

import csv
import io
import secrets

import httpx
import pytest

from servicekit.partner_signing import sign
from services.order.tests.import_helpers import csv_bytes, line

from .shop import event_count, ok, published_product, unique_word

pytestmark = pytest.mark.e2e

BASE = "/partner/v1/order-imports"


class Partner:
    """Signs every request as the partner's ERP would (servicekit.partner_signing)."""

    def __init__(self, http: httpx.Client, key_id: str, secret: str):
        self.http, self.key_id, self.secret = http, key_id, secret

    def send(self, method: str, path: str, **content) -> httpx.Response:
        return self.http.send(sign(self.http.build_request(method, path, **content),
                                   self.key_id, self.secret))

    def upload(self, content: bytes, **fields: str) -> dict:
        return ok(self.send("POST", BASE, files={"file": ("订单.csv", content, "text/csv")},
                            data=fields), 202)

    def finished_job(self, mall, job_id: str) -> dict:
        def finished():
            job = ok(self.send("GET", f"{BASE}/{job_id}"))
            return job if job.get("finished") else None
        return mall.wait_until(finished, timeout=60, what=f"import job {job_id} finishing")


def test_a_partner_imports_a_gbk_file_sees_the_bad_row_explained_and_re_uploads_safely(
        mall, admin_token):
    partner_id = f"erp-{secrets.token_hex(3)}"
    with mall.client(admin_token) as admin, mall.client() as http:
        product = published_product(admin, f"无痕内裤 {unique_word()}")
        code = product["skus"][0]["code"]
        issued = ok(admin.post("/v1/admin/partners/credentials",
                               json={"partner_id": partner_id, "partner_name": "某 ERP"}), 201)
        partner = Partner(http, issued["credential"]["key_id"], issued["secret"])
        imported_before = event_count(admin, "order.imported")

        file = csv_bytes([line("P-1", sku=code, qty="２", price="99.00", phone="+86 138-0013-8000"),
                          line("P-2", sku=code, qty="二", price="99.00"),
                          line("P-3", sku=code, time="2026/11/22", status="已发货")],
                         encoding="gbk")
        # order learns the SKU from catalog's product.published: a dry run tells when it has
        mall.wait_until(lambda: partner.finished_job(mall, partner.upload(
            file, dry_run="true")["job_id"])["counts"]["rows_valid"] == 2,
            what="order-import knowing the published SKU")

        job = partner.finished_job(mall, partner.upload(file, error_policy="import_valid")["job_id"])
        assert job["status"] == "done" and job["encoding"] == "gb18030", job
        counts = job["counts"]
        assert (counts["orders_imported"], counts["rows_error"]) == (2, 1), counts

        report = partner.send("GET", f"{BASE}/{job['job_id']}/report?format=csv&problems_only=true")
        rows = list(csv.reader(io.StringIO(ok_bytes(report).decode("utf-8-sig"))))
        errors = rows[1].index("错误说明 errors")
        (bad,) = rows[2:]
        assert "P-2" in bad and '数量 "二" 不是整数' in bad[errors] and "如 2" in bad[errors]

        desk = ok(admin.get("/v1/admin/orders", params={"import_batch_id": job["job_id"]}))
        assert sorted(o["status"] for o in desk["orders"]) == ["paid", "shipped"]
        assert {o["channel"] for o in desk["orders"]} == {f"import:{partner_id}"}
        assert sum(line["quantity"] for o in desk["orders"] for line in o["lines"]) == 3
        mall.wait_until(lambda: event_count(admin, "order.imported") == imported_before + 2,
                        what="analytics counting both imported orders once")

        again = partner.finished_job(mall, partner.upload(file, error_policy="import_valid")["job_id"])
        assert (again["counts"]["orders_imported"], again["counts"]["orders_skipped"]) == (0, 2)
        by_channel = ok(admin.get("/v1/admin/orders", params={"channel": f"import:{partner_id}"}))
        assert len(by_channel["orders"]) == 2


def ok_bytes(reply: httpx.Response) -> bytes:
    assert reply.status_code == 200, f"{reply.request.url}: {reply.status_code} {reply.text}"
    return reply.content
