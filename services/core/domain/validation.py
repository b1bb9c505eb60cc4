"""Turning raw input into a trade event, or into a list of (field, reason) a publisher can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.domain.types import INTAKE


@dataclass(frozen=True)
class FieldError:
    field: str  # dotted path, list indexes as [i]: lines[0].unit_price.amount
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class InvalidEvent(ValueError):
    """An event was refused before it reached Kafka; ``errors`` names every bad field and why."""

    def __init__(self, event_type: str, errors: list[FieldError]) -> None:
        self.event_type = event_type
        self.errors = errors
        super().__init__(f"invalid {event_type}: " + "; ".join(map(str, errors)))


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(event)"


def field_errors(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for err in exc.errors(include_url=False):
        violations = (err.get("ctx") or {}).get("violations")
        if err["type"] == "corridor_rule" and violations:
            base = _path(tuple(err["loc"]))
            prefix = "" if base == "(event)" else base + "."
            errors.extend(FieldError(prefix + field, reason) for field, reason in violations)
        else:
            errors.append(FieldError(_path(tuple(err["loc"])), err["msg"]))
    return errors


def parse_event(event_type: str, data: Any) -> TradeEvent:
    """Validate ``data`` as an event of ``event_type`` (full name or short name) being taken in: its codes
    are also held to the shipped lists (``types.INTAKE``, ADR 0032)."""
    model = EVENT_TYPES.get(event_type) or next(
        (m for name, m in EVENT_TYPES.items() if name.rsplit(".", 1)[-1] == event_type), None
    )
    if model is None:
        raise InvalidEvent(event_type, [FieldError("type", f"unknown event type {event_type!r}")])
    try:
        return model.model_validate(data, context=INTAKE)
    except ValidationError as exc:
        raise InvalidEvent(model.avro_name, field_errors(exc)) from None
