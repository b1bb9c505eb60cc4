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
        ',"PK","KHI","Karachi","Karachi","SD","12345---","AI","9601","","2451N 06700E",""\n'
        ',"CN","KSS","Kashi","Kashi","XJ","--3-----","AS","1207","","",""\n'
        'X,"CN","OLD","Gone","Gone","","1-------","XX","","","",""\n'  # marked for removal: skipped
        ',"US","NYC","New York","New York","NY","12345---","AI","","","",""\n',  # not a shipped country
        encoding="latin-1",
    )
    entries = gen.locodes_from_unece([part])
    assert entries["PKKHI"] == ("Karachi", "12345", "AI") and "CNOLD" not in entries
    assert gen.generate_locodes(entries, "2099-1", ["test release"], out=tmp_path) == 2
    text = (tmp_path / "unlocode.csv").read_text()
    assert "# edition: 2099-1" in text and "PKKHI,Karachi,12345,AI,unece" in text and "USNYC" not in text


def test_the_generator_merges_release_extract_and_per_country_files(tmp_path: Path) -> None:
    """Release first for the countries it holds, then the extract where it details a code, then the
    per-country files; a badly quoted name is rejoined; nothing outside the edition's index is added."""
    gen = _generator()
    by_country = tmp_path / "CN.csv"
    by_country.write_text(
        "country,location,name,nameWoDiacritics,subdivision,status,function,iata,lat,lon,geocoded\n"
        "CN,KSS,Kashi,Kashi,XJ,AS,--3-----,,,,\n"
        "CN,KHG,Kashi Apt,Kashi Apt,XJ,AS,--3-----,,,,\n"  # the extract's 4 wins
        'CN,ANX,"""Anxi","Quanzhou""","""Anxi","Quanzhou""",FJ,-23--6--,25.0,118.1,true\n'
        "CN,BAD,Shifted,Shifted,XJ,FJ,RL,,,,\n"  # no function layout: left out
        "CN,NEW,Not in the index,Not in the index,XJ,RL,1-------,,,,\n"
    )
    assert gen.locodes_by_country([by_country])["CNANX"] == ("Anxi,Quanzhou", "236", "")
    extract = {
        "CNKSS": ("", "", ""),
        "CNKHG": ("Kashi Apt", "4", "AS"),
        "CNANX": ("", "", ""),
        "CNBAD": ("", "", ""),
        "PKKHI": ("Karachi", "1", "AI"),
        "PKOLD": ("", "", ""),
    }
    unece = {"PKKHI": ("Karachi", "12345", "AI")}
    merged = gen.merge_locodes(extract, unece, gen.locodes_by_country([by_country]))
    assert merged == {
        "CNANX": ("Anxi,Quanzhou", "236", "", "by-country"),
        "CNBAD": ("", "", "", ""),
        "CNKHG": ("Kashi Apt", "4", "AS", "extract"),
        "CNKSS": ("Kashi", "3", "AS", "by-country"),
        "PKKHI": ("Karachi", "12345", "AI", "unece"),  # PKOLD: not in PK's release, so not in the edition
    }


#: Shipped entries with no function: the source gives "0" (function not known) for the first nine;
#: the last three are 2024-2 additions that only the edition's index names.
WITHOUT_FUNCTIONS = {
    "AEARZ", "AEDUY", "AEFMZ", "AEMAS", "CNCHO", "CNKAI", "CNQHW", "CNXXN", "SGWDL",
    "CNHEI", "CNJCE", "CNJZN",
}  # fmt: skip


def test_every_shipped_entry_has_its_functions() -> None:
    entries = reference._locodes()[1]
    bare = {code for code, entry in entries.items() if not entry.functions}
    assert bare == WITHOUT_FUNCTIONS
    assert {entry.source for entry in entries.values()} == {"unece", "extract", "by-country", ""}
    assert all(entries[code].source == "unece" for code in entries if code[:2] in {"PK", "HK", "SG"})


#: Codes carriers write for a port though UN/LOCODE lists only the city's airport (ADR 0026, 0032).
PORTS_BY_TRADE_USAGE = {"CNSHA", "CNTAO"}


def test_the_stories_load_and_discharge_where_their_mode_is_served() -> None:
    """A sea leg loads and discharges at ports (function 1 or 8), the road leg at road terminals,
    border crossings or inland clearance depots (3, B, 6): every place of loading and discharge the
    stories write, on bookings and certificates alike, has a recorded function serving its mode."""
    checked: list[tuple[str, str]] = []

    def code_of(place: object) -> str | None:
        if isinstance(place, dict):
            return place.get("unlocode")
        return place if isinstance(place, str) else None

    def walk(value: object) -> None:
        if isinstance(value, dict):
            mode = value.get("transport_mode")
            for key in ("place_of_loading", "place_of_discharge"):
                code = code_of(value.get(key))
                if isinstance(mode, str) and code and code not in PORTS_BY_TRADE_USAGE:
                    checked.append((code, mode))
                    assert validators.check_locode_function(code, mode) is None, (code, mode)
                    entry = reference.locode_entry(code)
                    assert entry is None or entry.functions, f"{code} has no recorded function"
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for story in (chromite_story(), explosives_story()):
        for event in story.events:
            walk(event.model_dump(mode="json"))
    assert {mode for _, mode in checked} >= {"SEA", "ROAD"}


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
