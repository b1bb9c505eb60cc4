"""Structured JSON logging through structlog, with per-message context (trace id, event id).

Services call ``configure_logging()`` once; handlers bind context with ``bound_contextvars`` so every
line logged while a record is processed carries its ``trace_id`` and ``event_id``. The HTTP services call
``configure_service_logging()`` instead, which also renders stdlib records (uvicorn, aiokafka, httpx) as the
same lines.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars, merge_contextvars

__all__ = ["bound_contextvars", "configure_logging", "configure_service_logging", "get_logger"]


def configure_logging(level: str = "INFO", fmt: str = "json", service: str = "corridor") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def configure_service_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """``configure_logging`` for a service, plus its stdlib records as the same lines on stderr.

    structlog is configured by ``configure_logging``; uvicorn (and aiokafka, httpx, ...) log through stdlib
    ``logging``, so the root logger gets one stderr handler whose structlog ProcessorFormatter renders
    their records like structlog's own (one JSON object per line with ``fmt="json"``), and uvicorn's
    loggers hand theirs to it. Services quiet their noisy libraries after calling this.
    """
    configure_logging(level, fmt, service=service)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.getLevelNamesMapping().get(level.upper(), logging.INFO))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
