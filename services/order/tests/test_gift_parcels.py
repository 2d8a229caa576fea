"""A points-mall gift's parcel (logistics' shipment.* with a redemption id and no order id)
moves no order, and its events are handled rather than parked as dead letters."""
from mall.events.v1 import logistics_events_pb2 as shipping
from sqlalchemy import select

from services.order import orders
from services.order.models import OrderShipment


def test_a_gift_parcels_events_move_no_order(runtime):
    change = shipping.ShipmentChanged(shipment_id="SHPGIFT", redemption_id="r-1", member_id="m-1",
                                      state=shipping.SHIPMENT_DELIVERED, shipment_count=1)
    with runtime.transaction() as session:
        orders.on_shipment_changed(session, runtime, change)  # before: NotFound, a dead letter
    with runtime.transaction() as session:
        assert session.scalars(select(OrderShipment)).all() == []
