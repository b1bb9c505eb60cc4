"""Base classes of the generated event models.

``AvroModel`` is any Avro record; ``TradeEvent`` adds what every trade event carries and the hook
that runs the cross-field rules of ``rules.py``, so no invalid event object can be built.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import cache
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError


class AvroModel(BaseModel):
    """A model generated from an Avro record; ``to_avro()`` gives what fastavro writes."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)

    avro_name: ClassVar[str] = ""

    def to_avro(self) -> dict[str, Any]:
        # Python mode keeps Decimal, datetime, date, UUID and str enums, which fastavro encodes directly.
        return self.model_dump(mode="python")


class TradeEvent(AvroModel):
    """A trade event: one ``.avsc`` under schemas/<area>/, published on that area's topic."""

    topic: ClassVar[str] = ""

    event_id: uuid.UUID
    trade_id: uuid.UUID
    occurred_at: dt.datetime
    created_at: dt.datetime | None = None  # DCSA event created time; domain/timing.py
    sender: str

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> Self:
        from corridor.core.domain.rules import check

        # rules that require data added in a later schema version run only on intake (types.INTAKE), so
        # records accepted before them still decode (ADRs 0033, 0034)
        violations = check(self, intake=bool(info.context and info.context.get("corridor_intake")))
        if violations:
            raise PydanticCustomError(
                "corridor_rule",
                "; ".join(f"{field}: {reason}" for field, reason in violations),
                {"violations": violations},
            )
        return self

    @property
    def ce_type(self) -> str:
        return self.avro_name


#: The fields that name an event's business object, most specific first, with the subject's prefix.
SUBJECT_FIELDS: tuple[tuple[str, str], ...] = (
    ("certificate_number", "certificate"),
    ("document_number", "document"),
    ("shipment_id", "shipment"),
    ("order_id", "order"),
    ("party_id", "party"),
)


@cache
def _subject_fields(model: type[TradeEvent]) -> tuple[tuple[str, str], ...]:
    # looked up once per type: probing a pydantic model for an attribute it lacks goes through its slow
    # ``__getattr__`` (about 35 µs per miss)
    return tuple((attr, prefix) for attr, prefix in SUBJECT_FIELDS if attr in model.model_fields)


def subject_of(event: TradeEvent) -> str:
    """The business object an event is about — ``certificate/…``, ``document/…`` (a transport document),
    ``shipment/…``, ``order/…``, ``party/…`` (an admission or withdrawal), else ``trade/<trade id>`` —
    the first of those the event names. One meaning everywhere: the CloudEvents ``subject`` on the wire,
    the ledger's receipts and a trade's timeline."""
    for attr, prefix in _subject_fields(type(event)):
        value = getattr(event, attr)
        if value:
            return f"{prefix}/{value}"
    return f"trade/{event.trade_id}"
