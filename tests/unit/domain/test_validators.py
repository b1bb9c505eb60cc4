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
    # GB 32100-2015 by hand: weights 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28; 31 - (sum mod 31),
    # 31 -> 0; python-stdnum, which the check now uses, must agree.
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    first17 = "91350100M000100Y4"
    total = sum(v.USCC_ALPHABET.index(c) * w for c, w in zip(first17, weights, strict=True))
    expected = v.USCC_ALPHABET[(31 - total % 31) % 31]
    assert v.uscc_check_char(first17) == expected == "3"
    with pytest.raises(ValueError):
        v.uscc_check_char("91350100I000100Y4")  # I is not in the alphabet


def test_wrong_uscc_check_character_names_the_expected_one() -> None:
    reason = v.check_uscc("91350100M000100Y44")
    assert reason is not None and "must be '3'" in reason


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100YO3", "not allowed"),
        ("91350100I000100Y43", "'I'"),
        ("A1110000600037341L", "first 8 characters"),  # python-stdnum's published invalid example
    ],
)
def test_bad_uscc(value: str, fragment: str) -> None:
    reason = v.check_uscc(value)
    assert reason is not None and fragment in reason


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("4271931-6", True),  # 7 digits, hyphen, check digit (as FBR's certificates print it)
        ("42719316", True),  # the same without the hyphen (as FBR's online verification takes it)
        ("3520212345671", True),  # a sole proprietor's NTN: the 13-digit CNIC
        ("35202-1234567-1", True),  # the CNIC as printed on the card
        ("427193-16", False),
        ("4271931-", False),
        ("427193-1", False),
        ("42719316-1", False),
        ("352021234567", False),  # 12 digits
        ("3520-21234567-1", False),
        ("٤٢٧١٩٣١-٦", False),  # Arabic-Indic digits: a different string
        ("", False),
    ],
)
def test_ntn_format(value: str, ok: bool) -> None:
    assert (v.check_ntn(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("213800KUD8LAJWSQ9D15", True),  # python-stdnum's published valid example
        ("5493001KJTIIGC8Y1R12", True),  # a published LEI (Bloomberg Finance L.P.)
        ("213800KUD8LXJWSQ9D15", False),  # one character changed: the MOD 97-10 check fails
        ("213800KUD8LAJWSQ9D1", False),  # 19 characters
        ("213800kud8lajwsq9d15", False),  # lower case: not the written form
    ],
)
def test_lei(value: str, ok: bool) -> None:
    assert (v.check_lei(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("4012345000009", True),  # GS1's example GLN (General Specifications, company prefix 4012345)
        ("9780471117094", True),  # python-stdnum's published valid EAN-13
        ("4012345000008", False),  # wrong check digit
        ("401234500000", False),  # 12 digits
        ("40123450000090", False),  # a GTIN-14 is not a GLN
    ],
)
def test_gln(value: str, ok: bool) -> None:
    assert (v.check_gln(value) is None) is ok


@pytest.mark.parametrize(
    ("scheme", "value", "ok"),
    [
        ("LEI", "213800KUD8LAJWSQ9D15", True),
        ("LEI", "213800KUD8LXJWSQ9D15", False),
        ("GLN", "4012345000009", True),
        ("GLN", "4012345000008", False),
        ("NTN", "42719316", True),
        ("USCC", "91110000600037341L", True),
        ("CORRIDOR", "karachi-customs", True),
    ],
)
def test_legal_id_by_scheme(scheme: str, value: str, ok: bool) -> None:
    assert (v.check_legal_id(scheme, value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("PKKHI", True),
        ("PKBQM", True),
        ("CNTXG", True),
        ("CNSHA", True),
        ("CNKJP", True),
        ("CNKSS", True),
        ("PKZSD", True),  # a configured private code (Sost dry port has no UN/LOCODE)
        ("USNYC", True),  # a country whose list is not shipped: format and country only
        ("PKXYZ", False),  # Pakistani shape, not in UN/LOCODE
        ("CNAAA", False),
        ("PKQTA", False),
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
        ("261099", False),  # a real chapter and heading, no such subheading
        ("970000", False),  # chapter 97 exists, heading 97.00 does not
        ("360310", True),
        ("854911", True),  # new in HS 2022 (e-waste): the list is the 2022 edition
        ("851712", False),  # HS 2017's mobile telephones, split in HS 2022 into 8517.13 and 8517.14
        ("851713", True),
    ],
)
def test_hs6(value: str, ok: bool) -> None:
    assert (v.check_hs6(value) is None) is ok


def test_unknown_hs_subheading_names_the_subheadings_of_its_heading() -> None:
    assert v.check_hs6("261099") == "261099 is not an HS 2022 subheading; heading 2610 has 261000"
    assert "heading 9700 does not exist" in (v.check_hs6("970000") or "")


def test_unknown_locode_names_the_edition() -> None:
    assert v.check_unlocode("PKXYZ") == (
        "PKXYZ is not in UN/LOCODE 2024-2 for PK (nor a private code configured here)"
    )


@pytest.mark.parametrize(
    ("code", "mode", "fits"),
    [
        ("PKKHI", "SEA", True),  # functions 1-5
        ("CNTXG", "SEA", True),  # Tianjin Xingang Pt: 1
        ("CNKJP", "ROAD", True),  # Kunjirap (Khunjerab): 3, a road point
        ("CNKSS", "ROAD", True),  # Kashi (Kashgar): 3
        ("CNKHG", "ROAD", False),  # Kashi Apt: 4 only
        ("CNSHA", "SEA", False),  # Hongqiao airport in UN/LOCODE, though carriers write it for the port
        ("CNTXG", "ROAD", False),
        ("PKBQM", "SEA", True),  # Muhammad Bin Qasim: 1 (UNECE 2024-2 release)
        ("PKLHE", "SEA", False),  # Lahore: 2, 3, 4, 5, 6 (inland)
        ("PKPZK", "ROAD", True),  # Karachi Freight Terminal: 6, an inland clearance depot (RQ)
        ("CNCHO", "ROAD", True),  # the source gives no function ("0"): nothing to object to
        ("PKZSD", "ROAD", True),  # a private code: not in UN/LOCODE at all
        ("CNURM", "MULTIMODAL", True),
    ],
)
def test_locode_function_fit(code: str, mode: str, fits: bool) -> None:
    reason = v.check_locode_function(code, mode)
    assert (reason is None) is fits
    if reason:
        assert code in reason and mode in reason


@pytest.mark.parametrize(
    ("country", "value", "hs", "fragment"),
    [
        ("PK", "26100000", "261000", None),  # PCT 2610.0000
        ("CN", "2610000000", None, None),
        ("PK", "2610000", None, "8 digits"),
        ("CN", "26100000", None, "10 digits"),
        ("PK", "2610.0000", None, "8 digits"),
        ("PK", "26109900", None, "not an HS subheading"),
        ("PK", "26030000", "261000", "not the line's HS code 261000"),
        ("AE", "26100000", None, "no national tariff format"),
    ],
)
def test_national_tariff_line(country: str, value: str, hs: str | None, fragment: str | None) -> None:
    reason = v.check_national_tariff_line(country, value, hs)
    assert (reason is None) if fragment is None else (reason is not None and fragment in reason)


def test_currency_must_be_iso_4217_and_a_corridor_currency() -> None:
    assert v.check_iso4217("CNY") is None
    assert "not an ISO 4217" in (v.check_iso4217("XYZ") or "")
    assert "not accepted" in (v.check_iso4217("EUR") or "")


def test_rec20_units_and_numbers() -> None:
    assert v.check_rec20("TNE") is None and v.check_rec20("DT") is None
    assert v.check_rec20("TONS") is not None
    assert "not accepted here" in (v.check_rec20("KTN") or "")  # a Rec 20 unit, not a corridor one
    assert "accepted here" in (v.check_rec20("MT") or "")
    assert v.check_non_negative(Decimal("-0.001")) == "must not be negative"
    assert v.check_percent(Decimal("100.01")) is not None
    assert v.check_un_number("UN0241") is None and v.check_un_number("0241") is not None


def test_text_accepts_chinese_and_urdu_but_not_control_characters() -> None:
    assert v.check_text("天津荣达铁合金冶炼有限公司") is None
    assert v.check_text("ژوب ویلی کرومائٹ") is None
    assert v.check_text("bad\x00name") is not None
    assert v.check_text("   ") == "must not be blank"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("BG", True),
        ("JB", True),
        ("VR", True),
        ("VO", True),
        ("NE", True),
        ("PX", True),
        ("CT", True),
        ("XX", False),
        ("bg", False),
        ("BAG", False),
        ("", False),
    ],
)
def test_rec21_package_types(value: str, ok: bool) -> None:
    assert (v.check_rec21(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("17-00-3736-045-91", True),  # FBR's printed grouping, 2-2-4-3-2
        ("1700373604591", True),  # as FBR's online services take it
        ("35202-1234567-1", True),  # a sole proprietor registered by CNIC
        ("3520212345671", True),
        ("4271931-6", False),  # an NTN is not an STRN
        ("17-00-3736-045-9", False),  # 12 digits
        ("17003736045911", False),  # 14 digits
        ("17 00 3736 045 91", False),  # spaces: write it with hyphens or without
        ("17-003736-045-91", False),  # hyphens out of place
        ("١٧٠٠٣٧٣٦٠٤٥٩١", False),  # Arabic-Indic digits: a different string
    ],
)
def test_strn_format(value: str, ok: bool) -> None:
    assert (v.check_strn(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("1201961234", None),  # Tianjin, no special zone, private enterprise
        ("6531960017", None),  # Kashgar
        ("3105914A2B", None),  # serial with capital letters
        ("120196123", "10 characters"),
        ("12019612345", "10 characters"),
        ("1201961a34", "10 characters"),  # lower case
        ("120A961234", "10 characters"),  # the division is digits
        ("9901961234", "'99' is not a mainland province"),
        ("8101961234", "'81' is not a mainland province"),  # Hong Kong has its own customs
        ("91120116MA05K7QX3W", "10 characters"),  # a USCC is not the customs code
    ],
)
def test_cn_customs_code(value: str, fragment: str | None) -> None:
    reason = v.check_cn_customs_code(value)
    assert (reason is None) is (fragment is None)
    if fragment:
        assert reason is not None and fragment in reason


def test_registration_by_scheme() -> None:
    assert v.check_registration("STRN", "1700373604591") is None
    assert v.check_registration("CN_CUSTOMS_CODE", "1700373604591") is not None
    assert set(v.REGISTRATION_SCHEMES) == {"STRN", "CN_CUSTOMS_CODE"}
