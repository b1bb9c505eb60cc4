"""Helpers of the contract checks against the stack."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from corridor.core.contracts import load_examples


def supplier_of(partner_id: str) -> str:
    """The supplier the ``buyer`` fixture registers beside the buyer ``partner_id``."""
    return f"{partner_id}-supplier"


def order_placed(partner_id: str) -> dict[str, Any]:
    """The OrderPlaced example as a structured CloudEvent of ``partner_id``, with fresh ids."""
    example = next(e for e in load_examples("valid") if e.type.endswith(".OrderPlaced"))
    data = copy.deepcopy(example.data)
    event_id = str(uuid.uuid4())
    data.update(
        event_id=event_id, trade_id=str(uuid.uuid4()), sender=partner_id, order_id=f"GEN-{event_id[:8]}"
    )
    data["buyer"]["party_id"] = partner_id
    # every party an order names must be a registered partner (ADR 16): the buyer fixture registers this
    # supplier with the buyer, so the test needs nobody else's partners in the shared table
    data["supplier"]["party_id"] = supplier_of(partner_id)
    return {"specversion": "1.0", "id": event_id, "source": "/erp", "type": example.type, "data": data}
