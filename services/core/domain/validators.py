"""Checks of trade identifiers and codes. Each returns None when valid, else the reason.

Reasons are phrased for the person who sent the value: they say what is wrong and what is expected.
Identifiers with a published algorithm are checked by python-stdnum (USCC, LEI, GLN, ISO 6346, IMO),
codes against the published lists shipped in ``data/`` (UN/LOCODE, HS, Rec 20, Rec 21; the
``*_format`` variants check only what does not change between editions); only what no library knows
is checked here by hand, for its format: the Pakistani NTN and STRN, whose check algorithms are
unpublished, and China's customs registration code, which has none
(docs/adr/0032-code-lists-and-identifiers.md, 0046-party-registrations.md).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType

from stdnum import ean, imo, iso6346, lei
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

from corridor.core.domain import iso_codes, reference

# USCC (GB 32100-2015): 18 characters from 0-9 and A-Z without I, O, S, V, Z; the 18th is a mod-31 check.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# re.ASCII: \d is 0-9 only, not Arabic-Indic or full-width digits (they would pass as a different string)
# NTN: 7 digits and a check digit, written with or without the hyphen (FBR prints both), or the 13 digits
# of a sole proprietor's CNIC, which FBR uses as the NTN, written with or without its hyphens.
_NTN = re.compile(r"\d{7}-?\d|\d{13}|\d{5}-\d{7}-\d", re.ASCII)
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
    if len(first17) != 17 or any(ch not in USCC_ALPHABET for ch in first17):
        raise ValueError(f"{first17!r} is not the first 17 characters of a USCC")
    return str(uscc.calc_check_digit(first17))


def _stdnum_reason(exc: StdnumError) -> str:
    return str(exc).rstrip(".").lower()


def check_uscc(value: str) -> str | None:
    """China's Unified Social Credit Code, checked by python-stdnum (``stdnum.cn.uscc``)."""
    if len(value) != 18:
        return f"a Unified Social Credit Code has 18 characters, got {len(value)}"
    bad = sorted({ch for ch in value if ch not in USCC_ALPHABET})
    if bad:
        return f"characters {''.join(bad)!r} are not allowed in a USCC (0-9 and A-Z without I, O, S, V, Z)"
    try:
        uscc.validate(value)
    except InvalidChecksum:
        expected = uscc_check_char(value[:17])
        return f"USCC check character is {value[17]!r} but must be {expected!r} for {value[:17]}"
    except StdnumError:
        # GB 32100: registration authority, organisation type and the 6-digit division code are digits
        return "the first 8 characters of a USCC are digits (authority, type, administrative division)"
    return None


def check_lei(value: str) -> str | None:
    """ISO 17442 Legal Entity Identifier: 20 characters, ISO 7064 MOD 97-10 check (python-stdnum)."""
    if not re.fullmatch(r"[0-9A-Z]{20}", value):
        return "an LEI is 20 capital letters or digits without spaces, e.g. 213800KUD8LAJWSQ9D15"
    try:
        lei.validate(value)
    except StdnumError as exc:
        return f"not a valid LEI: {_stdnum_reason(exc)}"
    return None


def check_gln(value: str) -> str | None:
    """GS1 Global Location Number: 13 digits with the GS1 mod-10 check digit (python-stdnum ``ean``)."""
    if not re.fullmatch(r"\d{13}", value, re.ASCII):
        return "a GS1 GLN is 13 digits, e.g. 4012345000009"
    try:
        ean.validate(value)
    except StdnumError as exc:
        return f"not a valid GLN: {_stdnum_reason(exc)}"
    return None


# The ISO lists are plain data (iso_codes: no pycountry, so the partner SDK stays small), looked up
# case-insensitively as pycountry did.
_is_country = iso_codes.is_country
_is_currency = iso_codes.is_currency


def check_ntn(value: str) -> str | None:
    # No library knows the NTN and its check-digit algorithm is unpublished (DOMAIN §2): the format only.
    if not _NTN.fullmatch(value):
        return (
            "a Pakistan NTN is 7 digits and a check digit (4271931-6 or 42719316), or a sole "
            "proprietor's 13-digit CNIC (35202-1234567-1 or 3520212345671)"
        )
    return None


@lru_cache(maxsize=4096)  # the same codes recur on every event; the ledger re-checks each on intake
def check_unlocode_format(value: str) -> str | None:
    """The shape of a UN/LOCODE and its country: what every stored event must still pass."""
    if not _LOCODE.fullmatch(value):
        return "a UN/LOCODE is 5 characters: 2-letter country code and 3 letters or digits 2-9, e.g. PKKHI"
    if _is_country(value[:2]) or value in reference.private_locodes():
        return None
    return f"{value[:2]!r} is not an ISO 3166-1 country code"


@lru_cache(maxsize=4096)
def check_unlocode(value: str) -> str | None:
    """The format, and for the countries whose list is shipped, membership in that edition."""
    if reason := check_unlocode_format(value):
        return reason
    if reference.locode_entry(value) is not None or value in reference.private_locodes():
        return None
    if value[:2] in reference.locode_countries():
        return (
            f"{value} is not in UN/LOCODE {reference.locode_edition()} for {value[:2]} "
            "(nor a private code configured here)"
        )
    return None  # a country whose list is not shipped: the country part is all that can be checked


def check_locode_function(value: str, mode: str) -> str | None:
    """Whether UN/LOCODE records a function of ``value`` that fits a leg or shipment by ``mode`` (SEA,
    ROAD, RAIL, AIR). A mismatch is advice, not a refusal (ADR 0032): carriers write CNSHA for Shanghai's
    port, which UN/LOCODE lists as an airport; entries without recorded functions never mismatch."""
    wanted = reference.MODE_FUNCTIONS.get(mode)
    entry = reference.locode_entry(value)
    if wanted is None or entry is None or not entry.functions:
        return None
    if set(wanted) & set(entry.functions):
        return None
    return (
        f"{value} ({entry.name}) has UN/LOCODE functions {entry.functions}, none of which serves a "
        f"{mode} leg (wanted one of {', '.join(wanted)})"
    )


@lru_cache(maxsize=4096)  # the same codes recur on every event; the ledger re-checks each on intake
def check_hs6_format(value: str) -> str | None:
    """Six digits in an existing chapter: what every stored event must still pass."""
    if not _HS6.fullmatch(value):
        return "an HS code here is the 6-digit HS 2022 subheading without dots, e.g. 261000 for 2610.00"
    chapter = int(value[:2])
    if not 1 <= chapter <= 97 or chapter == 77:
        return f"HS chapter {value[:2]} does not exist (chapters 01-97, 77 reserved)"
    return None


@lru_cache(maxsize=4096)
def check_hs6(value: str) -> str | None:
    """The format and membership in the shipped HS list (HS 2022)."""
    if reason := check_hs6_format(value):
        return reason
    if value in reference.hs_subheadings():
        return None
    heading = sorted(c for c in reference.hs_subheadings() if c.startswith(value[:4]))
    if heading:
        return f"{value} is not an HS 2022 subheading; heading {value[:4]} has {', '.join(heading[:12])}"
    return f"{value} is not an HS 2022 subheading: heading {value[:4]} does not exist"


#: National tariff lines: Pakistan's Customs Tariff (PCT) has 8 digits, China's tariff 10; both begin
#: with the HS subheading they subdivide.
NATIONAL_TARIFF_DIGITS = MappingProxyType({"PK": 8, "CN": 10})


def check_hs6_in(value: str, edition: str) -> str | None:
    """The format, and membership in ``edition``'s shipped list. Only HS 2022 is shipped: no machine-
    readable HS 2027 list was found (ADR 0039), so an HS 2027 code is held to its format only."""
    if edition == "HS2022":
        return check_hs6(value)
    return check_hs6_format(value)


def check_national_tariff_line(
    country: str, value: str, hs_code: str | None = None, *, edition: str | None = "HS2022"
) -> str | None:
    """A national tariff line: its length for ``country``, digits only, its first six digits a subheading
    of ``edition`` (``None``: their format only, as when decoding what is already stored), and equal to
    ``hs_code`` when the line's HS code is given."""
    digits = NATIONAL_TARIFF_DIGITS.get(country)
    if digits is None:
        return f"no national tariff format known for {country!r} (known: {', '.join(NATIONAL_TARIFF_DIGITS)})"
    if not re.fullmatch(rf"\d{{{digits}}}", value, re.ASCII):
        return f"a {country} tariff line is {digits} digits without dots, e.g. {'2610000000'[:digits]}"
    listed = check_hs6_format(value[:6]) if edition is None else check_hs6_in(value[:6], edition)
    if listed:
        return f"its first six digits are not an HS subheading: {listed}"
    if hs_code is not None and value[:6] != hs_code:
        return f"tariff line {value} subdivides HS {value[:6]}, not the line's HS code {hs_code}"
    return None


def check_rec20(value: str) -> str | None:
    if value in reference.REC20_UNITS:
        return None
    accepted = ", ".join(reference.REC20_UNITS)
    if value in reference.rec20_codes():
        return f"{value} ({reference.rec20_codes()[value]}) is a Rec 20 unit not accepted here: {accepted}"
    return f"unit must be a UN/ECE Rec 20 code accepted here: {accepted}"


def check_rec21(value: str) -> str | None:
    if value in reference.rec21_codes():
        return None
    return (
        "package type must be a UN/ECE Rec 21 code, e.g. BG bag, JB jumbo bag, VR bulk granular, PK package"
    )


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


@lru_cache(maxsize=4096)  # the same containers recur on every event of a shipment
def check_container_number(value: str) -> str | None:
    """ISO 6346 container number, check digit verified by python-stdnum (a maintained implementation)."""
    if not isinstance(value, str) or iso6346.compact(value) != value:
        return "must be an ISO 6346 container number in capitals without spaces, e.g. IOLU4127057"
    try:
        iso6346.validate(value)
    except StdnumError as exc:
        return f"not a valid ISO 6346 container number: {_stdnum_reason(exc)}"
    return None


def check_imo_number(value: str) -> str | None:
    """IMO ship identification number (7 digits, the last a check digit), verified by python-stdnum."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{7}", value, re.ASCII):
        return "must be the 7 digits of an IMO number without the 'IMO' prefix, e.g. 9345673"
    try:
        imo.validate(value)
    except StdnumError as exc:
        return f"not a valid IMO number: {_stdnum_reason(exc)}"
    return None


# STRN: 13 digits. FBR prints it grouped 2-2-4-3-2 (17-00-3736-045-91); a sole proprietor registered by
# CNIC has the CNIC's 13 digits, grouped 5-7-1; FBR's online services take it without hyphens.
_STRN = re.compile(r"\d{13}|\d{2}-\d{2}-\d{4}-\d{3}-\d{2}|\d{5}-\d{7}-\d", re.ASCII)
# The customs registration code (海关注册编码): 4-digit administrative division of the registering
# customs (the first 4 digits of the GB/T 2260 code), one digit for the kind of economic zone, one for
# the enterprise type, a 4-character serial (digits or capital letters).
_CN_CUSTOMS_CODE = re.compile(r"\d{6}[0-9A-Z]{4}", re.ASCII)
#: GB/T 2260 province-level codes of mainland China (the first two digits of every division code);
#: Hong Kong (81), Macao (82) and Taiwan (71) have their own customs and no GACC registration.
CN_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65".split()
)


def check_strn(value: str) -> str | None:
    """Pakistan's sales-tax registration number. No library knows it (python-stdnum has the NTN's
    neighbours, not the STRN) and FBR publishes no check algorithm: the format only."""
    if not _STRN.fullmatch(value):
        return (
            "a Pakistan STRN is 13 digits: 17-00-3736-045-91, 1700373604591, or a sole proprietor's "
            "CNIC 35202-1234567-1"
        )
    return None


def check_cn_customs_code(value: str) -> str | None:
    """China's 10-character customs registration code. No library knows it and it has no check
    character: its layout and the province of its division code are checked."""
    if not _CN_CUSTOMS_CODE.fullmatch(value):
        return (
            "a Chinese customs registration code is 10 characters: 4-digit administrative division, "
            "economic-zone digit, enterprise-type digit, 4 digits or capital letters, e.g. 1201960123"
        )
    if value[:2] not in CN_PROVINCES:
        return f"{value[:2]!r} is not a mainland province code (GB/T 2260), the first 2 digits of the code"
    return None


#: Each registration scheme (``PartyRegistrationScheme``), its check and the country that issues it.
REGISTRATION_SCHEMES = MappingProxyType(
    {"STRN": (check_strn, "PK"), "CN_CUSTOMS_CODE": (check_cn_customs_code, "CN")}
)


def check_registration(scheme: str, value: str) -> str | None:
    check, _country = REGISTRATION_SCHEMES[scheme]
    return check(value)


@lru_cache(maxsize=4096)  # the same few legal entities trade again and again; the USCC check costs most
def check_legal_id(scheme: str, value: str) -> str | None:
    if scheme == "NTN":
        return check_ntn(value)
    if scheme == "USCC":
        return check_uscc(value)
    if scheme == "LEI":
        return check_lei(value)
    if scheme == "GLN":
        return check_gln(value)
    return check_party_id(value)
