"""Format checks for trade identifiers and codes. Each returns None when valid, else the reason.

Reasons are phrased for the person who sent the value: they say what is wrong and what is expected.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from stdnum import imo, iso6346
from stdnum.exceptions import ValidationError as StdnumError

from corridor.core.domain import iso_codes, reference

# USCC (GB 32100-2015): 18 characters from 0-9 and A-Z without I, O, S, V, Z; the 18th is a mod-31 check.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}

# re.ASCII: \d is 0-9 only, not Arabic-Indic or full-width digits (they would pass as a different string)
_NTN = re.compile(r"\d{7}-\d", re.ASCII)
_LOCODE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")
_HS6 = re.compile(r"\d{6}", re.ASCII)
_PARTY_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
_UN_NUMBER = re.compile(r"UN\d{4}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # free text may have tabs and line breaks
_CONTROL_IN_REFERENCE = re.compile(r"[\x00-\x1f\x7f]")  # references end up in headers: no CR, LF, TAB

MAX_TEXT = 2000
MAX_REFERENCE = 64


def uscc_check_char(first17: str) -> str:
    """The check character of a USCC's first 17 characters (raises ValueError on bad characters)."""
    total = 0
    for ch, weight in zip(first17, USCC_WEIGHTS, strict=True):
        if ch not in _USCC_VALUE:
            raise ValueError(f"character {ch!r} is not allowed in a USCC")
        total += _USCC_VALUE[ch] * weight
    check = 31 - total % 31
    return USCC_ALPHABET[0 if check == 31 else check]


def check_uscc(value: str) -> str | None:
    if len(value) != 18:
        return f"a Unified Social Credit Code has 18 characters, got {len(value)}"
    bad = sorted({ch for ch in value if ch not in _USCC_VALUE})
    if bad:
        return f"characters {''.join(bad)!r} are not allowed in a USCC (0-9 and A-Z without I, O, S, V, Z)"
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        return f"USCC check character is {value[17]!r} but must be {expected!r} for {value[:17]}"
    return None


# The ISO lists are plain data (iso_codes: no pycountry, so the partner SDK stays small), looked up
# case-insensitively as pycountry did.
_is_country = iso_codes.is_country
_is_currency = iso_codes.is_currency


def check_ntn(value: str) -> str | None:
    # The NTN check-digit algorithm is unpublished (DOMAIN §2): only the format is checked.
    if not _NTN.fullmatch(value):
        return "a Pakistan NTN is 7 digits, a hyphen and a check digit, e.g. 4271931-6"
    return None


def check_unlocode(value: str) -> str | None:
    if not _LOCODE.fullmatch(value):
        return "a UN/LOCODE is 5 characters: 2-letter country code and 3 letters or digits 2-9, e.g. PKKHI"
    # Known country first: the private codes (from the environment) are the rare case.
    if _is_country(value[:2]) or value in reference.private_locodes():
        return None
    return f"{value[:2]!r} is not an ISO 3166-1 country code"


@lru_cache(maxsize=4096)  # the same codes recur on every event; the ledger re-checks each on intake
def check_hs6(value: str) -> str | None:
    if not _HS6.fullmatch(value):
        return "an HS code here is the 6-digit HS 2022 subheading without dots, e.g. 261000 for 2610.00"
    chapter = int(value[:2])
    if not 1 <= chapter <= 97 or chapter == 77:
        return f"HS chapter {value[:2]} does not exist (chapters 01-97, 77 reserved)"
    return None


def check_rec20(value: str) -> str | None:
    if value not in reference.REC20_UNITS:
        return f"unit must be a UN/ECE Rec 20 code accepted here: {', '.join(reference.REC20_UNITS)}"
    return None


def check_iso4217(value: str) -> str | None:
    if value in reference.DEFAULT_TRADE_CURRENCIES:
        return None
    if not _is_currency(value):
        return f"{value!r} is not an ISO 4217 currency code"
    if value not in reference.trade_currencies():
        return (
            f"currency {value} is not accepted for corridor trade ({', '.join(reference.trade_currencies())})"
        )
    return None


def check_iso3166(value: str) -> str | None:
    if len(value) != 2 or not _is_country(value):
        return f"{value!r} is not an ISO 3166-1 alpha-2 country code"
    return None


@lru_cache(maxsize=4096)  # the same codes recur on every event; the ledger re-checks each on intake
def check_party_id(value: str) -> str | None:
    if not _PARTY_ID.fullmatch(value):
        return "a partner id is 2-63 lower-case letters, digits or hyphens, starting with a letter or digit"
    return None


def check_un_number(value: str) -> str | None:
    if not _UN_NUMBER.fullmatch(value):
        return "a UN number is 'UN' followed by 4 digits, e.g. UN0241"
    return None


def check_text(value: str) -> str | None:
    if not value.strip():
        return "must not be blank"
    if len(value) > MAX_TEXT:
        return f"at most {MAX_TEXT} characters, got {len(value)}"
    if _CONTROL.search(value):
        return "must not contain control characters"
    return None


def check_reference(value: str) -> str | None:
    if not value.strip():
        return "must not be blank"
    if len(value) > MAX_REFERENCE:
        return f"at most {MAX_REFERENCE} characters, got {len(value)}"
    if _CONTROL_IN_REFERENCE.search(value) or value != value.strip():
        return "must not contain control characters or surrounding spaces"
    return None


def check_non_negative(value: Decimal | int) -> str | None:
    return "must not be negative" if value < 0 else None


def check_positive(value: Decimal | int) -> str | None:
    return "must be greater than zero" if value <= 0 else None


def check_percent(value: Decimal | int) -> str | None:
    return None if 0 <= value <= 100 else "a percentage must be between 0 and 100"


@lru_cache(maxsize=4096)  # the same few legal entities trade again and again; the USCC check is 5 µs
def check_container_number(value: str) -> str | None:
    """ISO 6346 container number, check digit verified by python-stdnum (a maintained implementation)."""
    if not isinstance(value, str) or iso6346.compact(value) != value:
        return "must be an ISO 6346 container number in capitals without spaces, e.g. IOLU4127057"
    try:
        iso6346.validate(value)
    except StdnumError as exc:
        return f"not a valid ISO 6346 container number: {str(exc).rstrip('.').lower()}"
    return None


def check_imo_number(value: str) -> str | None:
    """IMO ship identification number (7 digits, the last a check digit), verified by python-stdnum."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{7}", value, re.ASCII):
        return "must be the 7 digits of an IMO number without the 'IMO' prefix, e.g. 9345673"
    try:
        imo.validate(value)
    except StdnumError as exc:
        return f"not a valid IMO number: {str(exc).rstrip('.').lower()}"
    return None


def check_legal_id(scheme: str, value: str) -> str | None:
    if scheme == "NTN":
        return check_ntn(value)
    if scheme == "USCC":
        return check_uscc(value)
    return check_party_id(value)
