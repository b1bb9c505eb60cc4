"""Pydantic field types behind the ``corridor.format`` hints of the ``.avsc`` files.

The generated models (``events.py``) annotate each field with the validator named by its
``corridor.format``; the reason a validator gives ends up, with the field path, in the error a
publisher receives.

Two depths of check (ADR 0032): the format of a code is checked wherever a model is validated; whether
it is in the edition of a published list shipped today (UN/LOCODE, HS) only when the validation context
says the event is being taken in (``INTAKE``: the gateway, ``parse_event``, a partner's SDK). A record
accepted under one edition must stay readable under the next: decoding what Kafka or the ledger holds
never consults the lists.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import AfterValidator, GetCoreSchemaHandler, ValidationInfo
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from corridor.core.domain import dangerous_goods as dg
from corridor.core.domain import validators as v

_MIN_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_MAX_TIME = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


#: Validation context of an event being taken in: codes are also held to the shipped lists.
INTAKE: dict[str, Any] = {"corridor_intake": True}


def _rule(
    name: str, check: Callable[[Any], str | None], listed: Callable[[Any], str | None] | None = None
) -> AfterValidator:
    def validate(value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return value
        values = value if isinstance(value, list) else [value]
        intake = listed is not None and bool(info.context and info.context.get("corridor_intake"))
        for item in values:
            reason = check(item) or (listed(item) if intake and listed is not None else None)
            if reason:
                raise PydanticCustomError(f"corridor_{name}", reason)
        return value

    return AfterValidator(validate)


UNLOCODE = _rule("unlocode", v.check_unlocode_format, v.check_unlocode)
HS6 = _rule("hs6", v.check_hs6_format, v.check_hs6)
#: An HS code whose edition another field names (OrderLine.hs_edition): the format here, membership in
#: that edition's list by the intake rule that can see both fields (rules._lines_listed).
HS6_FORMAT = _rule("hs6_format", v.check_hs6_format)
#: National tariff lines: their length and digits everywhere; their HS prefix against the line's HS code
#: in the order line's rules (rules._line_customs_data), which see both fields.
PK_TARIFF_LINE = _rule("pk_tariff_line", lambda code: v.check_national_tariff_line("PK", code, edition=None))
CN_TARIFF_LINE = _rule("cn_tariff_line", lambda code: v.check_national_tariff_line("CN", code, edition=None))
REC20 = _rule("rec20", v.check_rec20)
REC21 = _rule("rec21", v.check_rec21)
LEI = _rule("lei", v.check_lei)
GLN = _rule("gln", v.check_gln)
ISO4217 = _rule("iso4217", v.check_iso4217)
ISO3166 = _rule("iso3166", v.check_iso3166)
PARTY_ID = _rule("party_id", v.check_party_id)
UN_NUMBER = _rule("un_number", v.check_un_number)
HAZARD_CLASSIFICATION = _rule("hazard_classification", dg.check_classification)
TEXT = _rule("text", v.check_text)
REFERENCE = _rule("reference", v.check_reference)
NON_NEGATIVE = _rule("non_negative", v.check_non_negative)
POSITIVE = _rule("positive", v.check_positive)
PERCENT = _rule("percent", v.check_percent)
ISO6346 = _rule("iso6346", v.check_container_number)
IMO = _rule("imo", v.check_imo_number)

#: ``corridor.format`` value → validator; the code generator refuses unknown formats.
FORMATS: dict[str, str] = {
    "unlocode": "UNLOCODE",
    "hs6": "HS6",
    "hs6_format": "HS6_FORMAT",
    "pk_tariff_line": "PK_TARIFF_LINE",
    "cn_tariff_line": "CN_TARIFF_LINE",
    "rec20": "REC20",
    "rec21": "REC21",
    "lei": "LEI",
    "gln": "GLN",
    "iso4217": "ISO4217",
    "iso3166": "ISO3166",
    "party_id": "PARTY_ID",
    "un_number": "UN_NUMBER",
    "hazard_classification": "HAZARD_CLASSIFICATION",
    "text": "TEXT",
    "reference": "REFERENCE",
    "non_negative": "NON_NEGATIVE",
    "positive": "POSITIVE",
    "percent": "PERCENT",
    "iso6346": "ISO6346",
    "imo": "IMO",
    "base64": "BASE64",
}


def _utc_millis(value: dt.datetime) -> dt.datetime:
    # Avro timestamp-millis stores UTC milliseconds: refuse local times without an offset (which
    # would silently shift by 5 or 8 hours between Karachi and Tianjin) and drop sub-millisecond digits.
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "corridor_timestamp", "timestamp must carry a UTC offset, e.g. 2026-03-02T09:30:00+05:00"
        )
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is in year 10000 in UTC
        raise PydanticCustomError("corridor_timestamp", "timestamp must be between 2000 and 2100") from None
    if not _MIN_TIME <= value < _MAX_TIME:
        raise PydanticCustomError("corridor_timestamp", "timestamp must be between 2000 and 2100")
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


UTC_MILLIS = AfterValidator(_utc_millis)


def _decimal_finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise PydanticCustomError("corridor_decimal", "must be a finite number")
    return value


FINITE = AfterValidator(_decimal_finite)


def _from_base64(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise PydanticCustomError(
                "corridor_base64", "must be standard base64 (RFC 4648 section 4, with padding)"
            ) from None
    return value


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


class _Base64Bytes:
    """Avro ``bytes`` in JSON: standard base64 in and out; raw bytes in Python and on the wire."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(
            _from_base64,
            handler(source),
            serialization=core_schema.plain_serializer_function_ser_schema(_to_base64, when_used="json"),
        )


BASE64 = _Base64Bytes()
