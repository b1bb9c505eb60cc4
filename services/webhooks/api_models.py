"""The webhooks service's OpenAPI document: the JSON answers of the subscriptions API as pydantic models,
and the callback every subscription receives as an OpenAPI 3.1 ``webhooks`` entry.

The callback (``services/webhooks/delivery.py``, docs/webhooks-receiver.md) is a CloudEvents 1.0
structured-mode document whose ``data`` is one of the event types — one schema per type, derived from the
event models, so a new event type appears without editing this module — sent with ``Corridor-Signature``,
``Corridor-Delivery`` and ``Corridor-Attempt``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from corridor.core.domain.events import EVENT_TYPES
from corridor.webhooks import delivery, signing


class SubscriptionView(BaseModel):
    """A subscription (its secret is shown once, when it is created)."""

    id: str
    partner_id: str
    callback_url: str
    event_types: list[str]
    trade_id: str | None
    location: str | None
    created_at: str | None
    verified_at: str | None = Field(None, description="When the endpoint echoed the verification challenge.")
    previous_secret_until: str | None = Field(
        None, description="After a secret rotation: until when the previous secret still signs deliveries."
    )


class CreatedSubscription(SubscriptionView):
    secret: str = Field(description="The shared secret that signs each delivery; shown only now.")


class SubscriptionList(BaseModel):
    items: list[SubscriptionView]


class DeadLetter(BaseModel):
    """An event whose delivery gave up after its retries."""

    id: str
    subscription_id: str
    event_id: str
    event_type: str
    trade_id: str | None
    topic: str
    partition: int
    offset: int
    attempts: int
    last_status: int | None
    last_error: str | None
    first_attempt_at: str
    dead_lettered_at: str
    redelivered_at: str | None


class DeadLetterList(BaseModel):
    items: list[DeadLetter]


class Redelivery(BaseModel):
    """Dead letters queued for delivery again; with ``?wait=true``, how many got through."""

    queued: int
    dead_letter_ids: list[str]
    delivered: int | None = None


class Readiness(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    checks: dict[str, str]


def webhooks_section(doc: dict[str, Any]) -> None:
    """Add ``webhooks.tradeEvent``: what Corridor POSTs to a subscription's callback URL."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    data_refs = []
    for full_name, model in sorted(EVENT_TYPES.items()):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        for name, definition in generated.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, {**generated, "description": f"`data` of a `{full_name}` event."})
        data_refs.append({"$ref": f"#/components/schemas/{model.__name__}"})
    schemas["CallbackEvent"] = {
        "title": "CallbackEvent",
        "description": (
            "A CloudEvents 1.0 event in structured mode, as POSTed to a callback URL. `type` names the "
            "event type and `data` is that type's fields (decimals as strings, instants with their offset)."
        ),
        "type": "object",
        "required": ["specversion", "id", "source", "type", "datacontenttype", "partitionkey", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid", "description": "The event id; deduplicate on it."},
            "source": {"type": "string", "description": "/corridor/partners/<sender>"},
            "type": {"type": "string", "enum": sorted(EVENT_TYPES)},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string"},
            "datacontenttype": {"const": "application/json"},
            "partitionkey": {"type": "string", "format": "uuid", "description": "The trade id."},
            "traceparent": {"type": "string"},
            "signatureverdict": {
                "type": "string",
                "description": "Certificates: the issuer's signature as the relay checked it (ADR 13).",
            },
            "data": {"oneOf": data_refs},
        },
        "additionalProperties": {"type": "string", "description": "A CloudEvents extension attribute."},
    }
    header = {"required": True, "schema": {"type": "string"}}
    doc["webhooks"] = {
        "tradeEvent": {
            "post": {
                "summary": "An event of your partner topic, pushed to your subscription's callback URL",
                "description": (
                    "Check the signature, then the timestamp, then deduplicate on `id` "
                    "(docs/webhooks-receiver.md). Any 2xx acknowledges; other answers and timeouts are "
                    "retried with backoff, then dead-lettered."
                ),
                "operationId": "receiveTradeEvent",
                "parameters": [
                    {
                        "name": signing.HEADER,
                        "in": "header",
                        **header,
                        "description": (
                            '`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`; several '
                            "`v1=` while a secret changes, one match is enough."
                        ),
                        "schema": {"type": "string", "pattern": r"^t=\d+(,v1=[0-9a-f]{64})+$"},
                    },
                    {
                        "name": delivery.DELIVERY_HEADER,
                        "in": "header",
                        **header,
                        "description": "One id per (event, subscription), the same on every attempt.",
                    },
                    {
                        "name": delivery.ATTEMPT_HEADER,
                        "in": "header",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                        "description": "1 for the first attempt, then 2, 3 …",
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        delivery.CONTENT_TYPE.split(";")[0]: {
                            "schema": {"$ref": "#/components/schemas/CallbackEvent"}
                        }
                    },
                },
                "responses": {
                    "200": {"description": "Received (or already processed: the same `id` again)"},
                    "401": {"description": "Signature or timestamp refused; retried"},
                    "409": {"description": "A replayed signature; not retried as a success"},
                },
            }
        }
    }
