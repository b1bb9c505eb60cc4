"""Full samples of every event type, generated from the .avsc files: every optional field set, every
array non-empty, so a round trip exercises every field of every schema."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from corridor.core.schemas import EventSchema

FORMAT_VALUES: dict[str, Any] = {
    "unlocode": "PKKHI",
    "hs6": "261000",
    "hs6_format": "261000",
    "pk_tariff_line": "26100000",
    "cn_tariff_line": "2610000000",
    "rec20": "TNE",
    "iso4217": "USD",
    "iso3166": "PK",
    "party_id": "acme-trading",
    "un_number": "UN0241",
    "hazard_classification": "1.1D",  # UN0241's, as the Dangerous Goods List has it
    "rec21": "CT",
    "text": "Chromite 铬矿 کرومائٹ",
    "reference": "REF-2026-0001",
    "positive": 1,
    "percent": Decimal("10"),
    "non_negative": Decimal("2"),
    "base64": bytes(range(64)),
    "iso6346": "IOLU4127057",
    "imo": "9345673",
}

ROLE_BY_FIELD = {
    "buyer": "BUYER",
    "consignee": "BUYER",
    "supplier": "SUPPLIER",
    "exporter": "SUPPLIER",
    "carrier": "CARRIER",
    "customs": "CUSTOMS",
    "authority": "CUSTOMS",
    "issuer": "INSPECTION_BODY",
    "issuing_bank": "BANK",
    "advising_bank": "BANK",
}

#: Values that the cross-field rules need (everything else comes from the schema).
OVERRIDES: dict[str, dict[str, Any]] = {
    "OrderResponded": {"response": "ACCEPTED_WITH_AMENDMENT", "responds_to_revision": 0},
    "OrderPlaced": {
        "incoterm": "FOB",
        "transport_mode": "SEA",
        "required_certificates": ["EXPLOSIVES_EXPORT_LICENCE", "EXPLOSIVES_IMPORT_APPROVAL"],
    },
    "ShipmentBooked": {
        "incoterm": "FOB",
        "transport_mode": "SEA",
        "place_of_discharge": {"unlocode": "CNTXG", "name": "Tianjin", "facility_type": "POTE"},
    },
    # every field set: a draft survey is the event that carries a cargo quantity
    "TransportEventRecorded": {"transport_event_type": "FINAL_DRAFT_SURVEY"},
    "CertificateVerified": {"result": "NOT_MATCHED"},
    "CertificateIssued": {"certificate_kind": "EXPLOSIVES_EXPORT_LICENCE"},  # only a licence has terms
    "CertificateAmended": {"supersedes_certificate_number": "REF-2026-0000"},
    "InvoiceIssued": {"total": {"amount": Decimal("4"), "currency": "USD"}},
    "LetterOfCreditEventRecorded": {"discrepancies": []},
}


_NAMED: dict[str, Any] = {}


def value_for(schema: Any, field_name: str, fmt: str | None) -> Any:
    if isinstance(schema, list):  # ["null", T]: always set, to exercise T
        return value_for(schema[1], field_name, fmt)
    if isinstance(schema, str) and schema in _NAMED:
        return value_for(_NAMED[schema], field_name, fmt)
    if isinstance(schema, dict) and schema.get("type") in ("record", "enum"):
        _NAMED[schema["name"]] = schema
    if isinstance(schema, str):
        if fmt in FORMAT_VALUES:
            return FORMAT_VALUES[fmt]
        return {"string": "x-value", "int": 7, "long": 7, "boolean": True, "double": 1.5}[schema]
    logical = schema.get("logicalType")
    if logical == "uuid":
        return uuid.uuid4()
    if logical == "timestamp-millis":
        return dt.datetime(2026, 3, 1, 4, 30, 0, 123000, tzinfo=dt.UTC)
    if logical == "date":
        return dt.date(2027, 3, 1)
    if logical == "decimal":
        return FORMAT_VALUES.get(fmt or "non_negative", Decimal("2"))
    kind = schema["type"]
    if kind == "array":
        return [value_for(schema["items"], field_name, fmt)]
    if kind == "enum":
        return schema["symbols"][0]
    if kind == "record":
        record = {
            f["name"]: value_for(f["type"], f["name"], f.get("corridor.format")) for f in schema["fields"]
        }
        if schema["name"].endswith("Party"):
            record.update(
                role=ROLE_BY_FIELD.get(field_name, "SUPPLIER"), id_scheme="CORRIDOR", legal_id="acme-trading"
            )
            if "registrations" in record:  # a registration its country issues, in its format
                record["registrations"] = [{"scheme": "STRN", "value": "1700373604591"}]
        return record
    return value_for(kind, field_name, fmt)


def _name_the_goods(value: Any) -> None:
    """Proper shipping names are the listed one of the sample's UN number (UN0241)."""
    if isinstance(value, dict):
        if "proper_shipping_name" in value:
            value["proper_shipping_name"] = "EXPLOSIVE, BLASTING, TYPE E"
        for v in value.values():
            _name_the_goods(v)
    elif isinstance(value, list):
        for v in value:
            _name_the_goods(v)


def full_sample(event: EventSchema) -> dict[str, Any]:
    sample = value_for(event.schema, "", None)
    _name_the_goods(sample)
    sample.update(OVERRIDES.get(event.name, {}))
    if event.name == "InvoiceIssued":  # line amount = quantity × unit price
        sample["lines"][0]["amount"]["amount"] = Decimal("4")
    if event.name == "OrderPlaced":  # the credit's two banks are two partners
        sample["letter_of_credit"]["advising_bank"]["party_id"] = "advising-bank"
    return sample
