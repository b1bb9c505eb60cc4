"""Identifier and code checks (DOMAIN §2, §6)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from corridor.core.domain import validators as v


@pytest.mark.parametrize(
    "uscc",
    [
        "91350100M000100Y43",  # a published, well-formed example code
        "91110000600037341L",
    ],
)
def test_valid_uscc(uscc: str) -> None:
    assert v.check_uscc(uscc) is None


def test_uscc_check_character_is_mod_31() -> None:
    # weights 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28; 31 - (sum mod 31), 31 -> 0
    first17 = "91350100M000100Y4"
    total = sum(v.USCC_ALPHABET.index(c) * w for c, w in zip(first17, v.USCC_WEIGHTS, strict=True))
    expected = v.USCC_ALPHABET[(31 - total % 31) % 31]
    assert v.uscc_check_char(first17) == expected == "3"


def test_wrong_uscc_check_character_names_the_expected_one() -> None:
    reason = v.check_uscc("91350100M000100Y44")
    assert reason is not None and "must be '3'" in reason


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100YO3", "not allowed"),
        ("91350100I000100Y43", "'I'"),
    ],
)
def test_bad_uscc(value: str, fragment: str) -> None:
    reason = v.check_uscc(value)
    assert reason is not None and fragment in reason


@pytest.mark.parametrize(
    ("value", "ok"), [("4271931-6", True), ("42719316", False), ("427193-16", False), ("", False)]
)
def test_ntn_format(value: str, ok: bool) -> None:
    assert (v.check_ntn(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("PKKHI", True),
        ("CNTXG", True),
        ("CNSHA", True),
        ("PKZSD", True),
        ("pkkhi", False),
        ("PKKH", False),
        ("QQKHI", False),
        ("PKK1I", False),
    ],
)
def test_unlocode(value: str, ok: bool) -> None:
    assert (v.check_unlocode(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("261000", True),
        ("360200", True),
        ("2610.00", False),
        ("2610", False),
        ("990000", False),
        ("770000", False),
    ],
)
def test_hs6(value: str, ok: bool) -> None:
    assert (v.check_hs6(value) is None) is ok


def test_currency_must_be_iso_4217_and_a_corridor_currency() -> None:
    assert v.check_iso4217("CNY") is None
    assert "not an ISO 4217" in (v.check_iso4217("XYZ") or "")
    assert "not accepted" in (v.check_iso4217("EUR") or "")


def test_rec20_units_and_numbers() -> None:
    assert v.check_rec20("TNE") is None and v.check_rec20("DT") is None
    assert v.check_rec20("TONS") is not None
    assert v.check_non_negative(Decimal("-0.001")) == "must not be negative"
    assert v.check_percent(Decimal("100.01")) is not None
    assert v.check_un_number("UN0241") is None and v.check_un_number("0241") is not None


def test_text_accepts_chinese_and_urdu_but_not_control_characters() -> None:
    assert v.check_text("天津荣达铁合金冶炼有限公司") is None
    assert v.check_text("ژوب ویلی کرومائٹ") is None
    assert v.check_text("bad\x00name") is not None
    assert v.check_text("   ") == "must not be blank"
