"""Reference data of the corridor (docs/domain.md §6): UN/LOCODEs, HS codes, Rec 20 units, currencies.

Lists that the real world keeps growing (private location codes, accepted trade currencies) are data
that deployments can extend through the environment, not hard rules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

#: UN/LOCODEs used on the corridor, with the aliases carriers write in practice.
KNOWN_LOCODES = MappingProxyType(
    {
        "PKKHI": "Karachi",
        "PKBQM": "Port Qasim",
        "PKGWD": "Gwadar",
        "PKISB": "Islamabad",
        "PKLHE": "Lahore",
        "PKQCT": "Quetta",
        "CNSGH": "Shanghai",
        "CNSHG": "Shanghai",
        "CNSHA": "Shanghai (carrier alias)",
        "CNTXG": "Tianjin Xingang",
        "CNQIN": "Qingdao",
        "CNQDG": "Qingdao",
        "CNTAO": "Qingdao (carrier alias)",
        "CNLYG": "Lianyungang",
        "CNKJP": "Khunjerab (China side)",
        "CNKHG": "Kashgar",
        "CNURM": "Urumqi",
        "CNBJS": "Beijing",
    }
)

#: Places UN/LOCODE lacks (DOMAIN §6): private codes, extendable with CORRIDOR_PRIVATE_LOCODES="CODE=Name,…".
DEFAULT_PRIVATE_LOCODES = MappingProxyType(
    {
        "PKZSD": "Sost dry port",
        "PKZKJ": "Khunjerab Pass (Pakistan side)",
        "CNZTK": "Tashkurgan",
        "PKZMS": "Muslim Bagh chromite mines",
    }
)


def private_locodes() -> Mapping[str, str]:
    # Called for every location field of every event (the ledger's hot path): parse the setting once
    # per distinct value, still following the environment when it changes.
    return _parse_private_locodes(os.environ.get("CORRIDOR_PRIVATE_LOCODES", ""))


@lru_cache(maxsize=8)
def _parse_private_locodes(raw: str) -> Mapping[str, str]:
    codes = dict(DEFAULT_PRIVATE_LOCODES)
    for item in filter(None, raw.split(",")):
        code, _, name = item.partition("=")
        codes[code.strip().upper()] = name.strip() or code.strip().upper()
    return MappingProxyType(codes)


def location_name(code: str) -> str:
    return KNOWN_LOCODES.get(code) or private_locodes().get(code) or code


#: Codes of one place that carriers, customs and traders write interchangeably (docs/domain.md §6), each
#: mapped to the one code Corridor compares and stores for that place: the code carriers' and DCSA's
#: data use (CNSHA for Shanghai, CNTAO for Qingdao), so most events need no translation. Extendable
#: with ``CORRIDOR_LOCODE_ALIASES="ALIAS=CODE,…"``; the ledger applies it to the events it applies from
#: then on (ADR 0026).
DEFAULT_LOCODE_ALIASES = MappingProxyType(
    {
        "CNSGH": "CNSHA",
        "CNSHG": "CNSHA",
        "CNQIN": "CNTAO",
        "CNQDG": "CNTAO",
    }
)


def locode_aliases() -> Mapping[str, str]:
    return _parse_locode_aliases(os.environ.get("CORRIDOR_LOCODE_ALIASES", ""))


@lru_cache(maxsize=8)
def _parse_locode_aliases(raw: str) -> Mapping[str, str]:
    aliases = dict(DEFAULT_LOCODE_ALIASES)
    for item in filter(None, raw.split(",")):
        alias, _, code = item.partition("=")
        alias, code = alias.strip().upper(), code.strip().upper()
        if alias and code and alias != code:
            aliases[alias] = code
    # an alias of an alias resolves to the final code (A=B, B=C: A → C), a cycle to its first member
    resolved: dict[str, str] = {}
    for alias in aliases:
        code, seen = alias, {alias}
        while code in aliases and aliases[code] not in seen:
            code = aliases[code]
            seen.add(code)
        resolved[alias] = code
    return MappingProxyType(resolved)


def canonical_locode(code: str) -> str:
    """The one UN/LOCODE of the place ``code`` names: codes are compared only after this (``CNSHG`` and
    ``CNSHA`` are both Shanghai, so a booking to one and an arrival at the other match)."""
    return locode_aliases().get(code, code)


#: HS 2022 subheadings that move on the corridor (DOMAIN §6), 6 digits without dots.
KNOWN_HS_CODES = MappingProxyType(
    {
        "261000": "Chromium ores and concentrates",
        "260300": "Copper ores and concentrates",
        "740200": "Unrefined copper; copper anodes (blister copper)",
        "250100": "Salt, including rock salt",
        "251511": "Marble, crude or roughly trimmed",
        "251512": "Marble, cut into blocks or slabs",
        "260111": "Iron ores, non-agglomerated",
        "260112": "Iron ores, agglomerated",
        "270111": "Anthracite",
        "270112": "Bituminous coal",
        "270119": "Other coal",
        "710310": "Precious stones, unworked",
        "710391": "Rubies, sapphires and emeralds, worked",
        "710399": "Other precious stones, worked",
        "360200": "Prepared explosives",
        "360310": "Safety fuses",
        "360320": "Detonating cords",
        "360330": "Percussion caps",
        "360340": "Detonating caps",
        "360350": "Igniters",
        "360360": "Electric detonators",
    }
)

#: HS chapters of explosives (36.02, 36.03): goods that need explosives licences on both sides.
EXPLOSIVES_HS_PREFIXES = ("3602", "3603")

#: UN/ECE Recommendation 20 unit codes accepted on the corridor.
REC20_UNITS = MappingProxyType(
    {
        "TNE": "tonne",
        "KGM": "kilogram",
        "GRM": "gram",
        "DT": "dry ton",
        "CTM": "metric carat",
        "MTQ": "cubic metre",
        "MTK": "square metre",
        "MTR": "metre",
        "LTR": "litre",
        "C62": "one",
        "H87": "piece",
        "P1": "percent",
    }
)

#: Currencies accepted for corridor trade (DOMAIN §3); extendable with CORRIDOR_TRADE_CURRENCIES.
DEFAULT_TRADE_CURRENCIES = ("USD", "CNY", "PKR")


def trade_currencies() -> tuple[str, ...]:
    return _parse_trade_currencies(os.environ.get("CORRIDOR_TRADE_CURRENCIES", ""))


@lru_cache(maxsize=8)
def _parse_trade_currencies(extra: str) -> tuple[str, ...]:
    return DEFAULT_TRADE_CURRENCIES + tuple(c.strip().upper() for c in extra.split(",") if c.strip())


#: Incoterms 2020 for sea and inland waterway transport only.
SEA_ONLY_INCOTERMS = frozenset({"FAS", "FOB", "CFR", "CIF"})
