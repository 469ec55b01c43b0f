"""Structured logs: one JSON object per line, carrying the service and correlation id.

The correlation id lives in a context variable that the consumer sets around each handler,
so every log line a handler writes is tied to the request that caused it without passing
it through every call.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_service: ContextVar[str] = ContextVar("service", default="-")

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

# `scheme://user:password@host`: the password part, wherever it appears in a line.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@\"']*):[^@\s/\"']*@")


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***` (NATS URLs, DSNs)."""
    return _URL_PASSWORD.sub(r"\1:***@", text)


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": _service.get(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = correlation_id.get()
        if cid:
            line["correlation_id"] = cid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        # Last, on the whole line: a credential in a message, a field or a traceback
        # never reaches the log, whoever wrote the line.
        return redact(json.dumps(line, default=str))


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger to stderr as JSON lines tagged with `service`."""
    _service.set(service)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # FastStream logs every message at INFO; ours already say what happened.
    logging.getLogger("faststream").setLevel(logging.WARNING)
    logging.getLogger("nats").setLevel(logging.WARNING)


@contextmanager
def correlated(cid: str | None) -> Iterator[None]:
    token = correlation_id.set(cid)
    try:
        yield
    finally:
        correlation_id.reset(token)
