"""JSON log lines with the trace id; personal data never printed.

Masking is a safety net (phones, id-card numbers, emails in any message); the first rule is
still that code never passes personal data to a logger.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone

from . import context, tracing

# Every pattern has bounded repetitions, so each start position costs at most a constant and a
# redaction is linear in its input (an unbounded `[\w.+-]+@` rescans the rest of a long word
# from every position: quadratic, seconds for one 30,000-character URL on the event loop).
_PII_PATTERNS = [
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "<phone>"),
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "<id-card>"),
    # RFC 5321's sizes: a local part of at most 64, a label of at most 63 characters.
    (re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{1,190}"), "<email>"),
]
# A log line longer than this is cut before it is masked (and printed).
MAX_LOGGED_CHARS = 16_384


def redact(text: str) -> str:
    """`text` with phones, id-card numbers and e-mails masked; linear in its length."""
    for pattern, replacement in _PII_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_pii(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """What a log line may print of `text`: its middle cut to keep `limit` characters (the start
    says what, a traceback's end says where), then redacted."""
    if len(text) > limit:
        half = limit // 2
        text = f"{text[:half]} … ({len(text) - 2 * half} characters cut) … {text[-half:]}"
    return redact(text)


class JsonFormatter(logging.Formatter):
    def __init__(self, process_name: str):
        super().__init__()
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = tracing.current_ids()
        line = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "process": self.process_name,
            "logger": record.name,
            "msg": mask_pii(record.getMessage()),
        }
        if trace_id:
            line["trace_id"], line["span_id"] = trace_id, span_id
        request_id = context.current().request_id
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            line["exc"] = mask_pii(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def setup(process_name: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pika", "kombu", "amqp", "nameko", "alembic", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
