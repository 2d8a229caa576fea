"""Log lines are JSON with the trace id, and personal data is masked even if code slips."""
import json
import logging

from servicekit import context, logs, tracing


def test_json_line_carries_trace_and_request_ids_and_masks_pii():
    tracing.setup("test")
    record = logging.LogRecord("mall.test", logging.INFO, __file__, 1,
                               "shipping to 138-1234-5678 / +86 139 1234 5678, mail a.b@example.com",
                               None, None)
    token = context.set_current(context.CallContext(request_id="req-7"))
    try:
        with tracing.tracer().start_as_current_span("op"):
            trace_id, _ = tracing.current_ids()
            line = json.loads(logs.JsonFormatter("catalog-api").format(record))
    finally:
        context.reset(token)
    assert line["trace_id"] == trace_id and len(trace_id) == 32
    assert line["request_id"] == "req-7"
    assert line["process"] == "catalog-api" and line["level"] == "info"
    assert "1234" not in line["msg"] and "example.com" not in line["msg"]
    assert line["msg"].count("<phone>") == 2 and "<email>" in line["msg"]


def test_id_card_numbers_are_masked_but_order_numbers_are_not():
    assert logs.mask_pii("id 11010519491231002X") == "id <id-card>"
    assert logs.mask_pii("order M20261123000123") == "order M20261123000123"
