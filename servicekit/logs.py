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

_PII_PATTERNS = [
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "<phone>"),
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "<id-card>"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
]


def mask_pii(text: str) -> str:
    for pattern, replacement in _PII_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


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
