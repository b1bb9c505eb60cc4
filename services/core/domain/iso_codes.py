"""ISO 3166-1 alpha-2 country codes and ISO 4217 alpha-3 currency codes, as data (docs/domain.md §6).

Source: the Debian ``iso-codes`` database as packaged by pycountry 26.2.16 (the version pinned in the
development dependencies). The validators used pycountry itself; a plain list keeps the trade domain, and
so the partner SDK, free of a 10 MB dependency (docs/adr/0022-partner-sdk-distribution.md).
``tests/unit/domain/test_iso_codes.py`` fails when these lists and the pinned pycountry differ;
regenerate with ``python -m tests.unit.domain.test_iso_codes`` after raising the pin.

Lookups are case-insensitive, as pycountry's were (``is_country("pk")`` is true): the formats that
must be upper case (UN/LOCODE …) check case with their own patterns.
"""

from __future__ import annotations

#: ISO 3166-1 alpha-2: the current countries (no historic codes).
COUNTRIES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH
    ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT
    HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS
    LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI
    NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG
    SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
    UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)

#: ISO 4217 alpha-3: the currencies in circulation and the funds and special codes.
CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD
    CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP
    SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
    VED VES VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER
    ZAR ZMW ZWG
    """.split()
)

_COUNTRIES_LOWER = frozenset(code.lower() for code in COUNTRIES)
_CURRENCIES_LOWER = frozenset(code.lower() for code in CURRENCIES)


def is_country(alpha_2: str) -> bool:
    """Whether ``alpha_2`` is an ISO 3166-1 alpha-2 code, in any letter case."""
    return alpha_2.lower() in _COUNTRIES_LOWER


def is_currency(alpha_3: str) -> bool:
    """Whether ``alpha_3`` is an ISO 4217 alpha-3 code, in any letter case."""
    return alpha_3.lower() in _CURRENCIES_LOWER
