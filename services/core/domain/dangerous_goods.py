"""Dangerous goods particulars (docs/domain.md §9; docs/adr/0034-dangerous-goods-and-licence-drawdown.md).

What lives here: the classification format (class or division, and for Class 1 the division with its
compatibility group), the shipped table of the Class 1 entries used in mining (``data/class1.csv``, its
source and edition in its header), and the check of one item's particulars against them. Pure, no I/O
beyond reading the shipped table once.

Invariants: a Class 1 classification names a division 1.1–1.6 and a compatibility group that division
admits (Model Regulations 2.1.2); a UN number in the table carries exactly its listed classification and
proper shipping name; Class 1 goods state their net explosive mass and packages. A Class 1 UN number
outside the table is held to the format only (the table is a selection, not the whole list).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from corridor.core.domain import reference

#: Compatibility groups each Class 1 division admits (UN Model Regulations 2.1.2, the classification
#: codes of Class 1): e.g. 1.5 only D, 1.6 only N, S only in 1.4.
COMPATIBILITY_GROUPS: Mapping[str, str] = MappingProxyType(
    {"1.1": "ABCDEFGJL", "1.2": "BCDEFGHJKL", "1.3": "CFGHJKL", "1.4": "BCDEFGS", "1.5": "D", "1.6": "N"}
)

_CLASS1 = re.compile(r"1\.([1-6])([A-Z])", re.ASCII)
#: Classes and divisions of the other eight classes (Model Regulations 2.0.1.1).
_OTHER = frozenset({"2.1", "2.2", "2.3", "3", "4.1", "4.2", "4.3", "5.1", "5.2", "6.1", "6.2", "7", "8", "9"})


@dataclass(frozen=True)
class Class1Entry:
    un_number: str
    classification: str  # division and compatibility group, e.g. 1.1D
    proper_shipping_name: str  # as listed, descriptive lower-case words included

    @property
    def name_proper(self) -> str:
        """The name without its lower-case descriptive words ("DETONATORS, ELECTRIC for blasting" →
        "DETONATORS, ELECTRIC"), the part that must be shown (Model Regulations 3.1.2.1)."""
        words = [w for w in self.proper_shipping_name.split() if not any(c.islower() for c in w)]
        return " ".join(words).rstrip(",")


@lru_cache(maxsize=1)
def class1_entries() -> Mapping[str, Class1Entry]:
    """The shipped Class 1 entries by UN number."""
    _, rows = reference._code_list("class1.csv")
    return MappingProxyType({un: Class1Entry(un, cls, name) for un, cls, name in rows})


def is_class1(un_number: str | None) -> bool:
    """Whether a UN number is of Class 1 (explosives): UN0001–UN0999 are all Class 1 entries."""
    return bool(un_number) and un_number.startswith("UN0")  # type: ignore[union-attr]


def is_explosive(hs_code: str, un_number: str | None) -> bool:
    """Goods that need explosives licences and dangerous-goods data: HS 36.02 / 36.03 or Class 1."""
    return hs_code.startswith(reference.EXPLOSIVES_HS_PREFIXES) or is_class1(un_number)


def check_classification(value: str) -> str | None:
    """The format of a class or division (``corridor.format: hazard_classification``)."""
    m = _CLASS1.fullmatch(value)
    if m:
        division, group = f"1.{m.group(1)}", m.group(2)
        if group not in COMPATIBILITY_GROUPS[division]:
            return (
                f"compatibility group {group} is not one of division {division} "
                f"({', '.join(COMPATIBILITY_GROUPS[division])})"
            )
        return None
    if value in _OTHER:
        return None
    if value == "1" or value.startswith("1."):
        return "a Class 1 classification is the division and the compatibility group, e.g. 1.1D, 1.5D, 1.4S"
    return "a class or division of the UN Model Regulations, e.g. 1.1D, 1.4S, 5.1, 9"


def check_particulars(dg: Any, field: str) -> Iterable[tuple[str, str]]:
    """One item's particulars against the table and the Class 1 requirements, as (field path, reason)."""
    class1 = is_class1(dg.un_number)
    other_class = class1 != dg.classification.startswith("1.")
    if other_class:
        yield (
            f"{field}.classification",
            f"{dg.un_number} is {'a Class 1' if class1 else 'not a Class 1'} entry, "
            f"but {dg.classification} is {'not ' if class1 else ''}a Class 1 classification",
        )
    entry = class1_entries().get(dg.un_number)
    if entry is not None:
        if dg.classification != entry.classification and not other_class:
            yield (
                f"{field}.classification",
                f"{dg.un_number} ({entry.proper_shipping_name}) is classified {entry.classification}, "
                f"not {dg.classification}",
            )
        given = " ".join(dg.proper_shipping_name.upper().split())
        if given not in (entry.proper_shipping_name.upper(), entry.name_proper):
            yield (
                f"{field}.proper_shipping_name",
                f"the proper shipping name of {dg.un_number} is {entry.proper_shipping_name!r}",
            )
    if class1:
        if dg.net_explosive_mass_kg is None:
            yield f"{field}.net_explosive_mass_kg", "required for Class 1 goods (explosives)"
        elif dg.net_explosive_mass_kg <= 0:
            yield f"{field}.net_explosive_mass_kg", "the net explosive mass of Class 1 goods is above zero"
        if dg.packages is None:
            yield f"{field}.packages", "required for Class 1 goods (number and Rec 21 kind of packages)"
