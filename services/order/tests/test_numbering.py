"""Order numbers: the Shanghai day and a sequence, handed out one at a time (checkout) or a block
at once (import), never the same number twice."""
from datetime import datetime, timezone

from ..numbering import next_order_no, reserve_order_nos

EVENING_UTC = datetime(2026, 12, 3, 17, 30, tzinfo=timezone.utc)  # 01:30 on the 4th in Shanghai


def test_single_numbers_and_blocks_share_one_sequence_per_shanghai_day(runtime):
    with runtime.transaction() as session:
        first = next_order_no(session, EVENING_UTC)
        block = reserve_order_nos(session, EVENING_UTC, 3)
        after = next_order_no(session, EVENING_UTC)
    assert first.startswith("20261204") and len(first) == 14
    sequence = [int(n[8:]) for n in [first, *block, after]]
    assert sequence == list(range(sequence[0], sequence[0] + 5))
