"""The code lists shipped as package data (docs/domain.md §6, ADR 0032): each names its source and
edition, holds what the corridor uses, and every code the stories, examples and docs write is in them."""

from __future__ import annotations

import importlib.util
import json
import re
from importlib.resources import files
from pathlib import Path
from types import ModuleType

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
    assert reference.location_name("CNKSS") == "Kashgar"
    assert reference.location_name("PKSKT") == "Sialkot"  # else UN/LOCODE's


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


def _generator() -> ModuleType:
    """``data/_generate.py``, a script beside the lists (not a module of the package)."""
    spec = importlib.util.spec_from_file_location("_generate", str(DATA.joinpath("_generate.py")))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_reads_a_unece_release_and_writes_what_the_loader_reads(tmp_path: Path) -> None:
    gen = _generator()
    part = tmp_path / "part.csv"
    part.write_text(
        ',"PK",,".PAKISTAN",,,,,,,,\n'  # a country header row: skipped
        ',"PK","KHI","Karachi","Karachi","SD","AI","12345---","9601","","2451N 06700E",""\n'
        ',"CN","KSS","Kashi","Kashi","XJ","AS","--3-----","1207","","",""\n'
        'X,"CN","OLD","Gone","Gone","","XX","1-------","","","",""\n'  # marked for removal: skipped
        ',"US","NYC","New York","New York","NY","AI","12345---","","","",""\n',  # not a shipped country
        encoding="latin-1",
    )
    entries = gen.locodes_from_unece([part])
    assert entries["PKKHI"] == ("Karachi", "12345", "AI") and "CNOLD" not in entries
    assert gen.generate_locodes(entries, "2099-1", "test release", out=tmp_path) == 2
    text = (tmp_path / "unlocode.csv").read_text()
    assert "# edition: 2099-1" in text and "PKKHI,Karachi,12345,AI" in text and "USNYC" not in text


def test_the_generator_reads_the_hs_and_rec_sources(tmp_path: Path) -> None:
    gen = _generator()
    hs = tmp_path / "hs-source.csv"
    hs.write_text(
        "section,hscode,description,parent,level\n"
        "V,26,Ores,TOTAL,2\nV,2610,Chromium ores,26,4\n"
        'V,261000,"Chromium ores  and concentrates",2610,6\n'
    )
    assert gen.generate_hs(hs, out=tmp_path) == 1
    assert "261000,HS2022,Chromium ores and concentrates" in (tmp_path / "hs.csv").read_text()
    rec20 = tmp_path / "rec20-source.csv"
    rec20.write_text(
        "Status,CommonCode,Name,Description,LevelAndCategory,Symbol,ConversionFactor\n"
        ",TNE,tonne (metric ton),,1S,t,\nX,05,lift,,3.9,,\nD,ZZZ,old,,,,\n"
    )
    assert gen.generate_rec20(rec20, out=tmp_path) == 1
    rec21 = tmp_path / "rec21-source.csv"
    rec21.write_text('Code,Name,Description,Numeric code,\nBG,Bag,,62,\nJB,"Bag, jumbo",,64,\n')
    assert gen.generate_rec21(rec21, out=tmp_path) == 2
    assert 'JB,"Bag, jumbo"' in (tmp_path / "rec21.csv").read_text()


def test_the_lists_hold_at_intake_and_never_when_history_is_read() -> None:
    """An event taken in (parse_event: the gateway, a partner's SDK) is held to the shipped editions; a
    record already accepted is decoded without them, so a code a later edition drops stays readable."""
    from corridor.core.domain.validation import InvalidEvent, parse_event

    order = chromite_story().events[0]
    data = order.model_dump(mode="json")
    data["incoterm_place"]["unlocode"] = "PKXYZ"
    data["lines"][0]["hs_code"] = "261099"
    data["lines"][0]["pk_tariff_code"] = "26109900"  # the tariff lines subdivide the line's HS code
    data["lines"][0]["cn_tariff_code"] = "2610990000"
    stored = type(order).model_validate(data)  # as the codec decodes what Kafka holds
    assert stored.incoterm_place.unlocode == "PKXYZ"
    with pytest.raises(InvalidEvent) as refused:
        parse_event(type(order).avro_name, data)
    # a field's own list check refuses first; the order line's HS code, whose list depends on the line's
    # edition (ADR 0039), is checked by the intake rule once every field is well formed
    assert {e.field for e in refused.value.errors} == {"incoterm_place.unlocode"}
    with pytest.raises(InvalidEvent) as refused:
        place = order.incoterm_place.model_dump(mode="json")
        parse_event(type(order).avro_name, {**data, "incoterm_place": place})
    assert {e.field for e in refused.value.errors} == {"lines[0].hs_code"}
    data["incoterm_place"]["unlocode"] = "XXKHI"  # the format is checked everywhere
    with pytest.raises(ValueError):
        type(order).model_validate(data)
