"""Regenerate the code lists in this folder from their published sources (run by hand, never by tests).

    python services/core/domain/data/_generate.py --locode-index LOCODES_LARGE_HEADER.h \
        --locode-detail LOCODES_SMALL_BODY.txt \
        --locode-unece '2024-2 UNLOCODE CodeListPart2.csv' '2024-2 UNLOCODE CodeListPart3.csv' \
        --locode-by-country CN.csv AE.csv \
        --hs harmonized-system.csv --rec20 units-of-measure.csv --rec21 data.csv

Every input is a local file taken from the source named in the header of the list it feeds (see
docs/domain.md §6 "Code lists shipped"); the script reads no network. UN/LOCODE entries are merged from
three sources, each line naming the one it came from (column ``source``), best first:

1. ``unece``: the UNECE 2024-2 release CSV (``--locode-unece``): name, functions and status of every
   entry of the countries its parts hold. The copies at hand hold parts 2 and 3 (countries F-Z: HK, PK,
   SG); part 1 (A-E: AE, CN) was not available, so
2. ``extract``: the 2024-2 extract (``--locode-index``/``--locode-detail``) gives every code of AE and CN
   and, for the statuses it details, name, functions and status; and
3. ``by-country``: per-country files of an earlier release (``--locode-by-country``) fill name, functions
   and status of the AE/CN codes the extract leaves bare. Only codes the 2024-2 index holds are written,
   and a function field that is not the 8-character UN/LOCODE layout (a shifted row) is ignored.

With the whole 2024-2 release at hand, ``--locode-unece`` with all three parts alone replaces the rest.
Each output starts with ``#`` lines naming its source and edition; the loader (``reference.py``) skips
them. Output is sorted and stable, so a regeneration from the same sources changes nothing.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Countries whose UN/LOCODE entries are shipped: the corridor's two countries and the trading hubs
#: intermediaries invoice from (Hong Kong, Singapore, the UAE). Codes of other countries are checked
#: for their format and country only (reference.py).
LOCODE_COUNTRIES = ("PK", "CN", "HK", "SG", "AE")

#: Bit i of the function word in the LOCODE extract → the UN/LOCODE function code (1 sea port, 2 rail,
#: 3 road, 4 airport, 5 postal exchange, 6 inland clearance depot, 7 fixed installation, 8 inland
#: water, A special economic zone, B border crossing).
FUNCTION_CODES = "12345678AB"
#: Status codes in the order the extract numbers them (0 = none).
STATUSES = ("", "AM", "RL", "RQ", "XX", "AA", "AC", "AI", "AF", "AS", "AQ", "RN", "UR", "QQ")

LOCODE_SOURCE = (
    "extract: UNECE UN/LOCODE 2024-2 (file loc242csv, 15 January 2025); codes of every status from the "
    "index, names/functions/status for the entries the extract details (status AM, AA, AC, AI, AF, AS), "
    "as extracted by the public repository wbyates777/LOCODE at commit ee0fd4cea070 "
    "(LOCODES_LARGE_HEADER.h, LOCODES_SMALL_BODY.txt)"
)
LOCODE_UNECE_SOURCE = (
    "unece: UNECE UN/LOCODE 2024-2 release CSV, parts 2 and 3 (countries F-Z, here HK, PK, SG), "
    "'2024-2 UNLOCODE CodeListPart2.csv' and '…Part3.csv' as committed unchanged in the public "
    "repository dynop/routing-service at commit b78f9ac3de35 (unlocode-data/)"
)
LOCODE_BY_COUNTRY_SOURCE = (
    "by-country: AE and CN entries the extract leaves bare (mostly status RL, RQ, AQ, RN), from the "
    "per-country files of the public repository geoapify/un-locode at commit 2d18b0928396 "
    "(src/data/CN.csv, AE.csv, MIT), built from a UNECE release it does not name: its PK, HK and SG "
    "entries equal the 2024-2 release's (307 of 307, functions and status), and it lacks 4 CN codes of "
    "2024-2, so it is 2024-1 or 2024-2; only codes of the 2024-2 index are taken"
)
HS_SOURCE = (
    "WCO Harmonized System 2022 nomenclature, 6-digit subheadings, as published by UN Comtrade and "
    "packaged by the public repository datasets/harmonized-system at commit 905e5a0fa29f "
    "(data/harmonized-system.csv, datapackage version 2022.0, PDDL)"
)
REC20_SOURCE = (
    "UN/CEFACT Recommendation 20 (codes for units of measure used in international trade), "
    "Revision 17 (2021), Annexes II and III, as packaged by the public repository "
    "datasets/unece-units-of-measure at commit f6427ebe979c (data/units-of-measure.csv, "
    "datapackage version 17.0, PDDL); deleted (X) and deprecated (D) codes left out"
)
REC21_SOURCE = (
    "UN/CEFACT Recommendation 21 (codes for types of cargo, packages and packaging materials), "
    "Annex VI package type codes, as packaged by the public repository edi3/edi3-codelists at "
    "commit 1edde19b2230 (docs/recommendation-21/data/data.csv, April 2020, PDDL)"
)


def _write(path: Path, header: Sequence[str], columns: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        for line in header:
            out.write(f"# {line}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _c_array(source: str, name: str) -> str:
    start = source.index("{", source.index(f"Locode::{name}[NUMLOCODE]")) + 1
    return source[start : source.index("};", start)]


def locodes_from_extract(index_h: Path, detail_txt: Path) -> dict[str, tuple[str, str, str]]:
    """code → (name, functions, status) from the C++ tables of the extract; "" where not detailed."""
    codes = set(re.findall(r"constexpr int ([A-Z]{2}[A-Z0-9]{3}) =", index_h.read_text(encoding="utf-8")))
    detail = detail_txt.read_text(encoding="utf-8", errors="replace")
    names = re.findall(r'"((?:[^"\\]|\\.)*)"', _c_array(detail, "m_fullNames"))
    detailed = re.findall(r'"([^"]*)"', _c_array(detail, "m_codes"))
    words = [w.strip() for w in _c_array(detail, "m_function").split(",") if w.strip()]
    if not len(names) == len(detailed) == len(words):
        raise SystemExit("the LOCODE extract's arrays differ in length: its layout changed")
    out = {code: ("", "", "") for code in codes}
    for code, name, word in zip(detailed, names, words, strict=True):
        if code not in codes:
            continue
        value = 0 if not word.isdigit() else int(word)
        functions = "".join(c for bit, c in enumerate(FUNCTION_CODES) if value & (1 << bit))
        out[code] = (name.replace('\\"', '"'), functions, STATUSES[value >> 11])
    return out


#: The UN/LOCODE function column: eight positions, each its classifier or "-" ("0": not known).
FUNCTION_FIELD = re.compile(r"[-0-9AB]{8}")


def _functions(field: str) -> str | None:
    """ "1-3----B" → "13B"; None when the field is not the published 8-character layout."""
    field = field.strip()
    if not FUNCTION_FIELD.fullmatch(field):
        return None
    return "".join(c for c in field if c not in "-0")


def locodes_from_unece(parts: Sequence[Path]) -> dict[str, tuple[str, str, str]]:
    """code → (name, functions, status) from a UNECE release's CSV files (Latin-1, no header row).

    Columns: change, country, location, name, name without diacritics, subdivision, function, status,
    date, IATA, coordinates, remarks."""
    out: dict[str, tuple[str, str, str]] = {}
    for part in parts:
        with part.open(encoding="latin-1", newline="") as f:
            for row in csv.reader(f):
                if len(row) < 8 or not row[2] or row[0] == "X":  # country header rows, removals
                    continue
                out[row[1] + row[2]] = (row[4] or row[3], _functions(row[6]) or "", row[7])
    return out


def locodes_by_country(files: Sequence[Path]) -> dict[str, tuple[str, str, str]]:
    """code → (name, functions, status) from per-country CSV files with a header row (country,
    location, name, nameWoDiacritics, subdivision, status, function, …); rows whose function field is
    malformed are left out."""
    out: dict[str, tuple[str, str, str]] = {}
    for path in files:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = csv.reader(f)
            columns = next(rows)
            for row in rows:
                r = dict(zip(columns, row, strict=False))
                if row[2].startswith('"') and len(row) > 5:
                    # A name holding a comma was written badly quoted ('"""Anxi","Quanzhou"""'): each
                    # name column came apart in two and the status and IATA columns were lost. Rejoin
                    # the name as the release writes it ("Anxi,Quanzhou"); the function is the one
                    # field of its 8-character layout; the status is unknown.
                    name = f"{row[2]},{row[3]}".replace('"', "")
                    field = next((x for x in row[6:] if FUNCTION_FIELD.fullmatch(x)), "")
                    r = {**r, "name": name, "nameWoDiacritics": name, "function": field, "status": ""}
                functions = _functions(r.get("function") or "")
                if functions is None or not r.get("location"):
                    continue
                out[r["country"] + r["location"]] = (
                    r["nameWoDiacritics"] or r["name"],
                    functions,
                    r["status"],
                )
    return out


def merge_locodes(
    extract: dict[str, tuple[str, str, str]],
    unece: dict[str, tuple[str, str, str]],
    by_country: dict[str, tuple[str, str, str]],
) -> dict[str, tuple[str, str, str, str]]:
    """code → (name, functions, status, source): the release where it covers the code's country, else
    the extract where it details the code, else the per-country files; codes the extract's index (the
    edition's full set) lacks are not added, except from the release itself."""
    release_countries = {code[:2] for code in unece}
    out: dict[str, tuple[str, str, str, str]] = {}
    for code in sorted(set(extract) | set(unece)):
        if code[:2] in release_countries:
            if code in unece:
                out[code] = (*unece[code], "unece")
            continue  # a code the release of its country does not hold is not in the edition
        name, functions, status = extract[code]
        if functions:
            out[code] = (name, functions, status, "extract")
        elif code in by_country:
            out[code] = (*by_country[code], "by-country")
        else:
            out[code] = (name, functions, status, "extract" if name else "")
    return out


def generate_locodes(
    entries: Mapping[str, tuple[str, ...]], edition: str, sources: Sequence[str], out: Path = HERE
) -> int:
    """Write unlocode.csv; an entry without a source name gets ``unece`` (a whole release was read)."""
    rows = sorted(
        (code, *(entries[code] + ("unece",))[:4]) for code in entries if code[:2] in LOCODE_COUNTRIES
    )
    return _write(
        out / "unlocode.csv",
        [
            f"UN/LOCODE entries of {', '.join(LOCODE_COUNTRIES)}",
            f"edition: {edition}",
            *(f"source: {source}" for source in sources),
            "functions: 1 sea port, 2 rail, 3 road, 4 airport, 5 postal, 6 inland clearance depot, "
            "7 fixed installation, 8 inland water, A special economic zone, B border crossing; "
            "empty: not given by the source",
        ],
        ("locode", "name", "functions", "status", "source"),
        rows,
    )


def generate_hs(path: Path, out: Path = HERE) -> int:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = sorted(
            (r["hscode"], "HS2022", " ".join(r["description"].split()))
            for r in csv.DictReader(f)
            if r["level"] == "6" and re.fullmatch(r"\d{6}", r["hscode"])
        )
    return _write(
        out / "hs.csv",
        [
            "HS subheadings (6 digits); the edition is on each line",
            f"source: {HS_SOURCE}",
            "HS 2027 (in force 1 January 2027): not included, no machine-readable source found yet",
        ],
        ("code", "edition", "description"),
        rows,
    )


def generate_rec20(path: Path, out: Path = HERE) -> int:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = sorted(
            (r["CommonCode"].strip(), " ".join(r["Name"].split()))
            for r in csv.DictReader(f)
            if r["Status"].strip() not in {"X", "D"} and r["CommonCode"].strip()
        )
    return _write(
        out / "rec20.csv",
        [
            "UN/ECE Recommendation 20 unit of measure codes",
            "edition: Revision 17 (2021)",
            f"source: {REC20_SOURCE}",
        ],
        ("code", "name"),
        rows,
    )


def generate_rec21(path: Path, out: Path = HERE) -> int:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = sorted(
            (r["Code"].strip(), " ".join(r["Name"].split()))
            for r in csv.DictReader(f)
            if re.fullmatch(r"[0-9A-Z]{2}", r["Code"].strip())
        )
    return _write(
        out / "rec21.csv",
        [
            "UN/ECE Recommendation 21 package type codes",
            "edition: the Annex VI list as that source published it in April 2020 (no revision named)",
            f"source: {REC21_SOURCE}",
        ],
        ("code", "name"),
        rows,
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--locode-index", type=Path)
    p.add_argument("--locode-detail", type=Path)
    p.add_argument("--locode-unece", type=Path, nargs="*", help="UNECE release CSV parts")
    p.add_argument("--locode-by-country", type=Path, nargs="*", help="per-country CSV files (AE, CN)")
    p.add_argument("--locode-edition", default="2024-2")
    p.add_argument("--hs", type=Path)
    p.add_argument("--rec20", type=Path)
    p.add_argument("--rec21", type=Path)
    args = p.parse_args(argv)
    if args.locode_index and args.locode_detail:
        entries = merge_locodes(
            locodes_from_extract(args.locode_index, args.locode_detail),
            locodes_from_unece(args.locode_unece or []),
            locodes_by_country(args.locode_by_country or []),
        )
        sources = [LOCODE_UNECE_SOURCE, LOCODE_SOURCE, LOCODE_BY_COUNTRY_SOURCE]
        n = generate_locodes(entries, args.locode_edition, sources)
        bare = sum(1 for code, e in entries.items() if code[:2] in LOCODE_COUNTRIES and not e[1])
        print(f"unlocode.csv: {n} entries, {bare} without functions")
    elif args.locode_unece:  # a whole release: nothing else needed
        n = generate_locodes(
            locodes_from_unece(args.locode_unece),
            args.locode_edition,
            [f"unece: UNECE UN/LOCODE {args.locode_edition} release, CSV files"],
        )
        print(f"unlocode.csv: {n} entries")
    for name, path, gen in (
        ("hs", args.hs, generate_hs),
        ("rec20", args.rec20, generate_rec20),
        ("rec21", args.rec21, generate_rec21),
    ):
        if path:
            print(f"{name}.csv: {gen(path)} entries")


if __name__ == "__main__":
    main()
