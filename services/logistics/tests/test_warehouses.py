"""Warehouses: created whole or not at all, codes unique, listed by priority."""
import dataclasses

import pytest
from sqlalchemy import func, select

from servicekit.errors import AlreadyExists, InvalidArgument
from services.logistics import warehouses
from services.logistics.models import Warehouse

from .conftest import GUANGZHOU, SHANGHAI


def run(runtime, fn, *args):
    with runtime.transaction() as session:
        return fn(session, *args)


def count(runtime):
    return run(runtime, lambda s: s.scalar(select(func.count()).select_from(Warehouse)))


def test_create_and_list_by_priority(runtime):
    run(runtime, warehouses.create_warehouse, GUANGZHOU)
    run(runtime, warehouses.create_warehouse, SHANGHAI)
    run(runtime, warehouses.create_warehouse,
        dataclasses.replace(SHANGHAI, code="SH-OLD", name="旧仓", active=False, priority=500))
    assert [w.code for w in run(runtime, warehouses.list_warehouses)] == ["SH-EAST", "GZ-SOUTH"]
    assert [w.code for w in run(runtime, warehouses.list_warehouses, True)] == [
        "SH-OLD", "SH-EAST", "GZ-SOUTH"]
    stored = run(runtime, warehouses.warehouse_by_code, "SH-EAST")
    assert (stored.province, stored.district, stored.latitude) == ("上海市", "青浦区", 31.1497)


def test_a_duplicate_code_is_refused(runtime):
    run(runtime, warehouses.create_warehouse, SHANGHAI)
    with pytest.raises(AlreadyExists) as err:
        run(runtime, warehouses.create_warehouse, dataclasses.replace(SHANGHAI, name="另一个"))
    assert [v.field for v in err.value.violations] == ["warehouse.code"]
    assert count(runtime) == 1


def test_an_address_without_province_and_other_bad_fields_are_all_named(runtime):
    bad = dataclasses.replace(SHANGHAI, code="sh east", province=" ", latitude=91.0,
                              longitude=float("nan"), priority=-1)
    with pytest.raises(InvalidArgument) as err:
        run(runtime, warehouses.create_warehouse, bad)
    assert [(v.field, v.rule) for v in err.value.violations] == [
        ("warehouse.code", "format"), ("warehouse.province", "required"),
        ("warehouse.latitude", "range"), ("warehouse.longitude", "range"),
        ("warehouse.priority", "range")]
    assert "上海市" in err.value.violations[1].description  # says what would be accepted
    assert count(runtime) == 0
