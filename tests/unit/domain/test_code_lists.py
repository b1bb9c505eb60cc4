"""The code lists shipped as package data (docs/domain.md §6, ADR 0032): each names its source and
edition, holds what the corridor uses, and every code the stories, examples and docs write is in them."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest

from corridor.core.domain import reference, validators
from corridor.demo.story import chromite_story, explosives_story

ROOT = Path(__file__).resolve().parents[3]
DATA = files("corridor.core.domain").joinpath("data")


@pytest.mark.parametrize("name", ["unlocode.csv", "hs.csv", "rec20.csv", "rec21.csv"])
def test_each_list_names_its_source_and_edition(name: str) -> None:
    lines = DATA.joinpath(name).read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("# ")]
    assert any(line.startswith("# source: ") and "commit" in line for line in header), header
    assert any("edition" in line for line in header), header


def test_the_lists_have_the_published_sizes() -> None:
    # HS 2022 has some 5,600 subheadings; Rec 20 revision 17 some 1,750 codes in force; the LOCODE index
    # of 2024-2 holds about 2,000 entries for PK, CN, HK, SG and AE together
    assert 5500 < len(reference.hs_subheadings()) < 5700
    assert {h.edition for h in reference.hs_subheadings().values()} == {"HS2022"}
    assert 1700 < len(reference.rec20_codes()) < 1800
    assert 350 < len(reference.rec21_codes()) < 400
    assert reference.locode_countries() == {"PK", "CN", "HK", "SG", "AE"}
    assert reference.locode_edition() == "2024-2"


def test_the_corridors_own_tables_are_in_the_published_lists() -> None:
    assert set(reference.KNOWN_HS_CODES) <= set(reference.hs_subheadings())
    assert set(reference.REC20_UNITS) <= set(reference.rec20_codes())
    for code in reference.KNOWN_LOCODES:
        assert reference.locode_entry(code) is not None, code
    # private codes are for places UN/LOCODE lacks: none may shadow a real code
    assert not set(reference.DEFAULT_PRIVATE_LOCODES) & set(reference._locodes()[1])


def test_entries_carry_their_functions() -> None:
    karachi = reference.locode_entry("PKKHI")
    assert karachi is not None and karachi.name == "Karachi" and "1" in karachi.functions
    assert reference.location_name("CNKJP") == "Khunjerab (China side)"  # the corridor's own name first
    assert reference.location_name("CNKSS") == "Kashi"  # else UN/LOCODE's


def _story_codes() -> tuple[set[str], set[str]]:
    locodes: set[str] = set()
    hs: set[str] = set()

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key == "unlocode":
            locodes.add(value)
        elif isinstance(value, str) and key == "hs_code":
            hs.add(value)

    for story in (chromite_story(), explosives_story()):
        for event in story.events:
            walk(event.model_dump(mode="json"))
    for path in sorted((ROOT / "contracts" / "examples" / "valid").glob("*.json")):
        walk(json.loads(path.read_text())["data"])
    return locodes, hs


def test_every_code_the_stories_and_valid_examples_use_is_known() -> None:
    locodes, hs = _story_codes()
    assert locodes and hs
    for code in sorted(locodes):
        assert validators.check_unlocode(code) is None, code
        assert reference.locode_entry(code) or code in reference.private_locodes(), code
    for code in sorted(hs):
        assert code in reference.hs_subheadings(), code


#: Codes the docs write on purpose as examples of what is refused.
REFUSED_IN_DOCS = {"PKXYZ", "CNAAA", "PKQTA"}


def test_every_pakistani_and_chinese_locode_the_docs_name_is_real_or_private() -> None:
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    seen: set[str] = set()
    for path in texts:
        seen |= set(re.findall(r"\b(?:PK|CN)[A-Z2-9]{3}\b", path.read_text(encoding="utf-8")))
    unknown = sorted(
        code
        for code in seen - REFUSED_IN_DOCS
        if reference.locode_entry(code) is None and code not in reference.private_locodes()
    )
    assert not unknown, f"docs name codes that are neither UN/LOCODE 2024-2 nor private: {unknown}"
