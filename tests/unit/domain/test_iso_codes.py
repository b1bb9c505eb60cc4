"""The ISO code lists of ``corridor.core.domain.iso_codes`` are exactly pycountry's (the version pinned in
the development dependencies), and the validators answer as they did with pycountry itself.

After raising the pycountry pin, regenerate the module with ``python -m tests.unit.domain.test_iso_codes``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pycountry
import pytest

from corridor.core.domain import iso_codes, validators

_HEADER = (
    '"""ISO 3166-1 alpha-2 country codes and ISO 4217 alpha-3 currency codes, as data '
    '''(docs/domain.md §6).

Source: the Debian ``iso-codes`` database as packaged by pycountry {version} (the version pinned in the
development dependencies). The validators used pycountry itself; a plain list keeps the trade domain, and
so the partner SDK, free of a 10 MB dependency (docs/adr/0022-partner-sdk-distribution.md).
``tests/unit/domain/test_iso_codes.py`` fails when these lists and the pinned pycountry differ;
regenerate with ``python -m tests.unit.domain.test_iso_codes`` after raising the pin.

Lookups are case-insensitive, as pycountry's were (``is_country("pk")`` is true): the formats that
must be upper case (UN/LOCODE …) check case with their own patterns.
"""

from __future__ import annotations

'''
)

_FOOTER = '''
_COUNTRIES_LOWER = frozenset(code.lower() for code in COUNTRIES)
_CURRENCIES_LOWER = frozenset(code.lower() for code in CURRENCIES)


def is_country(alpha_2: str) -> bool:
    """Whether ``alpha_2`` is an ISO 3166-1 alpha-2 code, in any letter case."""
    return alpha_2.lower() in _COUNTRIES_LOWER


def is_currency(alpha_3: str) -> bool:
    """Whether ``alpha_3`` is an ISO 4217 alpha-3 code, in any letter case."""
    return alpha_3.lower() in _CURRENCIES_LOWER
'''


def _block(name: str, codes: list[str], doc: str) -> str:
    body = textwrap.fill(" ".join(codes), width=104, initial_indent="    ", subsequent_indent="    ")
    return f'#: {doc}\n{name}: frozenset[str] = frozenset(\n    """\n{body}\n    """.split()\n)\n'


def render() -> str:
    """The module's source from the installed pycountry."""
    from importlib.metadata import version

    countries = sorted(c.alpha_2 for c in pycountry.countries)
    currencies = sorted(c.alpha_3 for c in pycountry.currencies)
    return (
        _HEADER.format(version=version("pycountry"))
        + _block("COUNTRIES", countries, "ISO 3166-1 alpha-2: the current countries (no historic codes).")
        + "\n"
        + _block(
            "CURRENCIES",
            currencies,
            "ISO 4217 alpha-3: the currencies in circulation and the funds and special codes.",
        )
        + _FOOTER
    )


def test_the_lists_are_pycountrys() -> None:
    assert iso_codes.COUNTRIES == {c.alpha_2 for c in pycountry.countries}
    assert iso_codes.CURRENCIES == {c.alpha_3 for c in pycountry.currencies}
    assert Path(iso_codes.__file__).read_text() == render(), "run python -m tests.unit.domain.test_iso_codes"


@pytest.mark.parametrize(
    "value",
    ["PK", "pk", "Cn", "XX", "", "P", "PAK", "ＰＫ", "P\u212a", "pk ", "UK", "EU", "AA", "ZZ", "KP", "XK"],
)
def test_countries_answer_as_pycountry_did(value: str) -> None:
    assert iso_codes.is_country(value) is (pycountry.countries.get(alpha_2=value) is not None)
    expected = None if len(value) == 2 and pycountry.countries.get(alpha_2=value) else "reason"
    assert (validators.check_iso3166(value) is None) is (expected is None)


@pytest.mark.parametrize("value", ["PKR", "pkr", "CNY", "usd", "XXX", "XAU", "ABC", "", "PK", "EURO", "RMB"])
def test_currencies_answer_as_pycountry_did(value: str) -> None:
    assert iso_codes.is_currency(value) is (pycountry.currencies.get(alpha_3=value) is not None)


def main() -> None:
    Path(iso_codes.__file__).write_text(render())


if __name__ == "__main__":
    main()
