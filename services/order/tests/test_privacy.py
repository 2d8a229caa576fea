"""An order's shipping address sealed at rest: opens to exactly what was sealed, shows nothing
in clear, and cannot be moved to another order."""
import pytest
from mall.common.v1 import common_pb2

from servicekit.pii import KeyConfigError

from .. import privacy

ADDRESS = common_pb2.Address(recipient="周女士", phone="13700000000", province="浙江省",
                             city="杭州市", district="西湖区", detail='文三路 1 号 "北门"\\3',
                             postal_code="310012")


def test_a_sealed_address_opens_to_every_field_it_had():
    sealed = privacy.seal_address("order-1", ADDRESS)
    assert privacy.open_address("order-1", sealed) == ADDRESS
    partial = common_pb2.Address(recipient="李", city="上海市")
    assert privacy.open_address("order-2", privacy.seal_address("order-2", partial)) == partial


def test_nothing_is_readable_and_another_order_cannot_open_it():
    sealed = privacy.seal_address("order-1", ADDRESS)
    for clear in ("13700000000", "周", "文三路", "310012"):
        assert clear not in sealed
    with pytest.raises(KeyConfigError):
        privacy.open_address("order-9", sealed)
