#!/usr/bin/env python3
# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""Generates libcidrot/src/nanp_table.cpp, the compiled-in NANP area-code table.

Inputs:
  * NANPA's NPA report (npa_report.csv): which NPAs are in service, where, their time zones and
    overlay complexes. Public data from nationalnanpa.com.
  * The geoinfo NPA-NXX data set (geoinfo_full_dataset_csv.zip, MIT licence, DJ Belieny): one point
    per exchange, from which we take each NPA's centroid (and, only where NANPA gives no time zone,
    the zones of its exchanges).

Decisions (also in docs/nanp.md):
  * Every NPA with IN_SERVICE == 'Y' is in the table. Non-geographic ones (USE == 'N': toll-free
    8XX, 5XX, 600, 700, 710, 900, ...) get region "" and no time zone (NANPA files them under
    Eastern only because it must put something there), no centroid and no nearby list, so they
    never match a region, time-zone or distance tier; their country is the report's, or "" when the
    code is NANP-wide. Their overlay complex (e.g. the toll-free codes) is kept.
  * Region: US states/DC/territories keep NANPA's 2-letter code ("CNMI" -> "MP"); territories have
    country "US" (they are US subdivisions, ISO 3166-2:US, and dial as domestic). Canadian
    provinces are mapped to their ISO codes; the report files 867 under NT/YT/NU and 782/902 under
    NS/PE together, and we take the first listed (NT, NS). Other NANP countries use their ISO
    3166-1 code as both region and country ("JM"/"JM"). Two of those collide with US states
    (KY Cayman Islands / Kentucky, MS Montserrat / Mississippi): compare country too.
  * Overlay: the relation is symmetric. An NPA's partners are the other in-service NPAs that share
    any OVERLAY_COMPLEX group (several groups may be listed, comma-separated, e.g. 917) with it in
    any in-service NPA's row, because NANPA updates the rows of old NPAs late (416's row does not
    list its 2025 overlay 942, 942's does).
  * Centroid: each distinct NPA-NXX of the geoinfo set is one point (the mean of the coordinates
    its rows carry; rows with missing or zero coordinates are skipped) and the NPA's centroid is the
    mean of its exchanges' points, rounded to 4 decimals. Distances are great-circle (haversine,
    R = 6371 km) between rounded centroids, rounded to whole km; nearby lists are sorted by
    (distance, NPA).
  * Unknown TIME_ZONE spellings, locations or countries stop the generator with an error, so a new
    report is never half understood.

The output depends only on the inputs: same inputs, byte-identical output.
"""

import argparse
import collections
import csv
import hashlib
import io
import math
import re
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "nanp"
DEFAULT_REPORT = DEFAULT_DATA / "npa_report.csv"
DEFAULT_GEOINFO = DEFAULT_DATA / "geoinfo_full_dataset_csv.zip"
DEFAULT_OUT = REPO_ROOT / "libcidrot" / "src" / "nanp_table.cpp"
GEOINFO_MEMBER = "full_dataset_csv.csv"

NEARBY_COUNT = 20
EARTH_RADIUS_KM = 6371.0
# An exchange-derived zone must cover this share of an NPA's exchanges, so a few misfiled
# exchanges do not add a zone.
DERIVED_ZONE_MIN_SHARE = 0.05

# TimeZoneBit names in nanp.h, in bit order.
TZ_BITS = [
    "kTzAtlantic", "kTzEastern", "kTzCentral", "kTzMountain", "kTzPacific", "kTzAlaska",
    "kTzHawaii", "kTzNewfoundland", "kTzChamorro", "kTzSamoa",
]
TZ_LETTERS = {"A": "kTzAtlantic", "E": "kTzEastern", "C": "kTzCentral", "M": "kTzMountain",
              "P": "kTzPacific", "N": "kTzNewfoundland"}
# Standard-time UTC offsets (hours) of each zone.
TZ_BY_OFFSET = {-3.5: "kTzNewfoundland", -4.0: "kTzAtlantic", -5.0: "kTzEastern",
                -6.0: "kTzCentral", -7.0: "kTzMountain", -8.0: "kTzPacific", -9.0: "kTzAlaska",
                -10.0: "kTzHawaii", -11.0: "kTzSamoa", 10.0: "kTzChamorro"}
# TIME_ZONE spellings that are prose rather than letter codes.
TZ_PROSE = {"PT/MT ONLY FOR W WENDOVER": {"kTzPacific", "kTzMountain"}}

US_CODES = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR", "VI", "GU", "MP", "AS",
}
US_ALIASES = {"CNMI": "MP"}
CANADA = {
    "ALBERTA": "AB", "BRITISH COLUMBIA": "BC", "MANITOBA": "MB", "NEW BRUNSWICK": "NB",
    "NEWFOUNDLAND LABRADOR": "NL", "NOVA SCOTIA": "NS", "ONTARIO": "ON",
    "PRINCE EDWARD ISLAND": "PE", "QUEBEC": "QC", "SASKATCHEWAN": "SK",
    "NORTHWEST TERRITORIES": "NT", "YUKON": "YT", "NUNAVUT": "NU",
}
OTHER_COUNTRIES = {
    "ANGUILLA": "AI", "ANTIGUA BARBUDA": "AG", "BAHAMAS": "BS", "BARBADOS": "BB", "BERMUDA": "BM",
    "BRITISH VIRGIN ISLANDS": "VG", "CAYMAN ISLANDS": "KY", "DOMINICA": "DM",
    "DOMINICAN REPUBLIC": "DO", "GRENADA": "GD", "JAMAICA": "JM", "MONTSERRAT": "MS",
    "SINT MAARTEN": "SX", "ST KITTS NEVIS": "KN", "ST LUCIA": "LC",
    "ST VINCENT GRENADINES": "VC", "TRINIDAD TOBAGO": "TT", "TURKS CAICOS ISLANDS": "TC",
}


# Every NANP place lies north of the equator and west of Greenwich except Guam and the Northern
# Mariana Islands (east) and American Samoa (south). geoinfo has the signs of Guam's longitude and
# American Samoa's latitude wrong, so each point is put into its region's hemispheres:
# region -> (latitude sign, longitude sign).
HEMISPHERES = {"GU": (1, 1), "MP": (1, 1), "AS": (-1, -1)}
DEFAULT_HEMISPHERES = (1, -1)

# Keys of CANADA and OTHER_COUNTRIES are in name_key() form.


class InputError(Exception):
    pass


def name_key(text):
    """'ST. KITTS & NEVIS' and 'ST.KITTS AND NEVIS' -> 'ST KITTS NEVIS'."""
    words = re.split(r"[^A-Z0-9]+", text.upper())
    return " ".join(w for w in words if w and w != "AND")


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_report(path):
    """Returns (file date, rows as dicts keyed by header name)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        first = next(reader, None)
        if not first or first[0].strip() != "File Date" or len(first) < 2 or not first[1].strip():
            raise InputError(f"{path}: first line is not 'File Date,<date>'")
        header = [h.strip() for h in next(reader, [])]
        needed = {"NPA_ID", "USE", "LOCATION", "COUNTRY", "IN_SERVICE", "OVERLAY_COMPLEX",
                  "TIME_ZONE"}
        missing = needed - set(header)
        if missing:
            raise InputError(f"{path}: header lacks {', '.join(sorted(missing))}")
        rows = []
        for line_no, values in enumerate(reader, start=3):
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise InputError(
                    f"{path}:{line_no}: {len(values)} fields, header has {len(header)}")
            rows.append({h: v.strip() for h, v in zip(header, values)})
    return first[1].strip(), rows


def parse_npa(text, where):
    if not re.fullmatch(r"[2-9][0-9][0-9]", text):
        raise InputError(f"{where}: '{text}' is not an NPA")
    return int(text)


def parse_time_zone(text, npa):
    """NANPA TIME_ZONE spelling -> set of TimeZoneBit names (empty set when the field is empty)."""
    code = text.strip().upper()
    if not code:
        return set()
    if code in TZ_PROSE:
        return set(TZ_PROSE[code])
    if code == "AK":
        return {"kTzAlaska"}
    utc = re.fullmatch(r"\(?UTC\s*([+-]\d+(?:\.\d+)?)\)?", code)
    if utc and float(utc.group(1)) in TZ_BY_OFFSET:
        return {TZ_BY_OFFSET[float(utc.group(1))]}
    if re.fullmatch(r"[AECMPN]+", code):
        return {TZ_LETTERS[c] for c in code}
    raise InputError(f"NPA {npa}: unknown TIME_ZONE '{text}'")


def region_and_country(row, npa):
    """Returns (region, country) for a geographic NPA's row."""
    location = row["LOCATION"].strip().upper()
    country = name_key(row["COUNTRY"])
    if country == "US" or location in US_CODES or location in US_ALIASES:
        region = US_ALIASES.get(location, location)
        if region not in US_CODES:
            raise InputError(f"NPA {npa}: unknown US location '{row['LOCATION']}'")
        return region, "US"
    if country == "CANADA":
        # Joint entries ("NOVA SCOTIA - PRINCE EDWARD ISLAND") take the first listed province.
        first = name_key(re.split(r"\s+-\s*|\s*-\s+", location)[0])
        if first not in CANADA:
            raise InputError(f"NPA {npa}: unknown Canadian location '{row['LOCATION']}'")
        return CANADA[first], "CA"
    iso = OTHER_COUNTRIES.get(name_key(location)) or OTHER_COUNTRIES.get(country)
    if not iso:
        raise InputError(f"NPA {npa}: unknown location '{row['LOCATION']}' / '{row['COUNTRY']}'")
    return iso, iso


def non_geographic_country(row, npa):
    country = name_key(row["COUNTRY"])
    if not country:
        return ""
    if country == "US":
        return "US"
    if country == "CANADA":
        return "CA"
    raise InputError(f"NPA {npa}: unknown country '{row['COUNTRY']}' for a non-geographic code")


def overlay_groups(text):
    """'212/332/646/917, 347/465/718/917/929' -> [[212, 332, 646, 917], [347, ...]]."""
    groups = []
    for part in text.split(","):
        npas = [p.strip() for p in part.split("/") if p.strip()]
        if npas:
            groups.append([parse_npa(p, f"OVERLAY_COMPLEX '{text}'") for p in npas])
    return groups


def read_geoinfo(path, hemispheres):
    """Returns {npa: {nxx: {(lat, lon)}}}, {npa: {nxx: {gmt offsets}}} and the number of points
    moved into their region's hemispheres; `hemispheres` maps each wanted NPA to its signs."""
    fixed = 0
    points = collections.defaultdict(lambda: collections.defaultdict(set))
    offsets = collections.defaultdict(lambda: collections.defaultdict(set))
    with zipfile.ZipFile(path) as archive:
        with archive.open(GEOINFO_MEMBER) as raw:
            reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
            needed = {"npa", "nxx", "gmtOffset", "latitude", "longitude"}
            if not needed <= set(reader.fieldnames or []):
                raise InputError(f"{path}: {GEOINFO_MEMBER} lacks {sorted(needed)}")
            for row in reader:
                npa_text, nxx = row["npa"].strip(), row["nxx"].strip()
                if not npa_text.isdigit() or int(npa_text) not in hemispheres:
                    continue
                npa = int(npa_text)
                try:
                    offsets[npa][nxx].add(float(row["gmtOffset"]))
                except ValueError:
                    pass
                try:
                    lat, lon = float(row["latitude"]), float(row["longitude"])
                except ValueError:
                    continue
                if lat == 0.0 or lon == 0.0 or not (math.isfinite(lat) and math.isfinite(lon)):
                    continue
                lat_sign, lon_sign = hemispheres[npa]
                if math.copysign(1, lat) != lat_sign or math.copysign(1, lon) != lon_sign:
                    fixed += 1
                    lat, lon = math.copysign(lat, lat_sign), math.copysign(lon, lon_sign)
                points[npa][nxx].add((lat, lon))
    return points, offsets, fixed


def centroid(exchanges):
    """Mean over exchanges of each exchange's mean point; fsum keeps it order-independent."""
    pts = []
    for nxx in sorted(exchanges):
        coords = sorted(exchanges[nxx])
        pts.append((math.fsum(c[0] for c in coords) / len(coords),
                    math.fsum(c[1] for c in coords) / len(coords)))
    if not pts:
        return None
    return (round(math.fsum(p[0] for p in pts) / len(pts), 4),
            round(math.fsum(p[1] for p in pts) / len(pts), 4))


def zones_from_offsets(exchanges):
    counts = collections.Counter()
    for offs in exchanges.values():
        for off in offs:
            if off in TZ_BY_OFFSET:
                counts[TZ_BY_OFFSET[off]] += 1
    total = len(exchanges)
    return {zone for zone, n in counts.items() if total and n / total >= DERIVED_ZONE_MIN_SHARE}


def haversine_km(a, b):
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def build(report_path, geoinfo_path):
    file_date, rows = read_report(report_path)
    entries = {}  # npa -> dict
    for row in rows:
        if row["IN_SERVICE"].upper() != "Y":
            continue
        npa = parse_npa(row["NPA_ID"], f"{report_path}: NPA_ID")
        if npa in entries:
            raise InputError(f"{report_path}: NPA {npa} listed twice")
        location = row["LOCATION"].strip().upper()
        geographic = row["USE"].upper() != "N" and location not in ("", "NANP AREA")
        if geographic:
            region, country = region_and_country(row, npa)
            zones = parse_time_zone(row["TIME_ZONE"], npa)
        else:
            region, country, zones = "", non_geographic_country(row, npa), set()
        entries[npa] = {"npa": npa, "geographic": geographic, "region": region,
                        "country": country, "zones": zones, "overlay": set(),
                        "centroid": None, "nearby": [], "derived_tz": False}

    for npa, row in ((int(r["NPA_ID"]), r) for r in rows if r["IN_SERVICE"].upper() == "Y"):
        for group in overlay_groups(row["OVERLAY_COMPLEX"]):
            # A row's complex includes its own NPA even where NANPA left it out (524, ...).
            members = {n for n in group if n in entries} | {npa}
            for a in members:
                entries[a]["overlay"] |= members - {a}

    geographic = {n for n, e in entries.items() if e["geographic"]}
    points, offsets, fixed_signs = read_geoinfo(
        geoinfo_path, {n: HEMISPHERES.get(entries[n]["region"], DEFAULT_HEMISPHERES)
                       for n in geographic})
    for npa in sorted(geographic):
        e = entries[npa]
        e["centroid"] = centroid(points.get(npa, {}))
        if not e["zones"] and npa in offsets:
            e["zones"] = zones_from_offsets(offsets[npa])
            e["derived_tz"] = bool(e["zones"])

    located = [n for n in sorted(entries) if entries[n]["centroid"]]
    for npa in located:
        here = entries[npa]["centroid"]
        dists = sorted((int(math.floor(haversine_km(here, entries[o]["centroid"]) + 0.5)), o)
                       for o in located if o != npa)
        entries[npa]["nearby"] = dists[:NEARBY_COUNT]
    for e in entries.values():
        if len(e["overlay"]) > 255 or max((d for d, _ in e["nearby"]), default=0) > 65535:
            raise InputError(f"NPA {e['npa']}: does not fit the AreaCode field widths")
    return file_date, [entries[n] for n in sorted(entries)], fixed_signs


def tz_expr(zones):
    names = [b for b in TZ_BITS if b in zones]
    return " | ".join(names) if names else "0"


def emit_lists(w, declaration, lists):
    """Writes `declaration = {...};` with one line per (npa, items) whose items are not empty,
    and returns {npa: offset of its first item}."""
    offsets, pos = {}, 0
    w(declaration + " = {")
    for npa, items in lists:
        if items:
            offsets[npa] = pos
            w(f"  /* {npa} */ " + ", ".join(items) + ",")
            pos += len(items)
    w("};")
    return offsets


def render(file_date, table, report_path, geoinfo_path):
    out = []
    w = out.append
    w("// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT")
    w("//")
    w("// GENERATED FILE, DO NOT EDIT. Regenerate from the repository root with")
    w("//   python3 tools/gen_nanp.py")
    w("// whose defaults are --npa-report ../shared/data/nanp/npa_report.csv")
    w("//   --geoinfo-zip ../shared/data/nanp/geoinfo_full_dataset_csv.zip")
    w("//   --out libcidrot/src/nanp_table.cpp")
    w("// Inputs:")
    w(f"//   {Path(report_path).name}: NANPA NPA report, File Date {file_date},")
    w(f"//     sha256 {file_sha256(report_path)}")
    w(f"//   {Path(geoinfo_path).name}: geoinfo NPA-NXX data set (MIT, THIRD_PARTY_NOTICES.md),")
    w(f"//     sha256 {file_sha256(geoinfo_path)}")
    w("// See docs/nanp.md for what each column holds and the choices behind it.")
    w("")
    w('#include "nanp_table.h"')
    w("")
    w("#include <cstdint>")
    w("#include <iterator>")
    w("")
    w('#include "cidrot/nanp.h"')
    w("")
    w("namespace cidrot::detail {")
    w("namespace {")
    w("")
    w("// clang-format off")
    w("// Overlay partners, one line per NPA that has any.")
    overlay_at = emit_lists(w, "constexpr std::uint16_t kOverlay[]",
                            [(e["npa"], [str(p) for p in sorted(e["overlay"])]) for e in table])
    w("")
    w(f"// Up to {NEARBY_COUNT} nearest NPAs {{npa, km}}, one line per NPA with a centroid.")
    nearby_at = emit_lists(w, "constexpr NearbyAreaCode kNearby[]",
                           [(e["npa"], [f"{{{n}, {d}}}" for d, n in e["nearby"]]) for e in table])
    w("")
    w("// {npa, region, country, overlay, overlay_count, time_zones, has_centroid, latitude,")
    w("//  longitude, nearby, nearby_count}")
    w("constexpr AreaCode kAreaCodes[] = {")
    for e in table:
        npa = e["npa"]
        overlay = f"kOverlay + {overlay_at[npa]}" if npa in overlay_at else "nullptr"
        nearby = f"kNearby + {nearby_at[npa]}" if npa in nearby_at else "nullptr"
        if e["centroid"]:
            has, lat, lon = "true", f"{e['centroid'][0]:.4f}f", f"{e['centroid'][1]:.4f}f"
        else:
            has, lat, lon = "false", "0.0f", "0.0f"
        w(f'  {{{npa}, "{e["region"]}", "{e["country"]}", {overlay}, {len(e["overlay"])}, '
          f'{tz_expr(e["zones"])}, {has}, {lat}, {lon}, {nearby}, {len(e["nearby"])}}},')
    w("};")
    w("// clang-format on")
    w("")
    w(f'constexpr char kNpaReportDate[] = "{file_date}";')
    w("constexpr NanpTable kTable{kAreaCodes, std::size(kAreaCodes), kNpaReportDate};")
    w("")
    w("}  // namespace")
    w("")
    w("const NanpTable& nanp_table() noexcept { return kTable; }")
    w("")
    w("}  // namespace cidrot::detail")
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npa-report", default=str(DEFAULT_REPORT),
                        help="NANPA NPA report CSV (default: %(default)s)")
    parser.add_argument("--geoinfo-zip", default=str(DEFAULT_GEOINFO),
                        help="geoinfo full_dataset_csv.zip (default: %(default)s)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help="generated C++ file (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        file_date, table, fixed_signs = build(args.npa_report, args.geoinfo_zip)
        text = render(file_date, table, args.npa_report, args.geoinfo_zip)
    except (InputError, OSError, zipfile.BadZipFile, csv.Error) as err:
        print(f"gen_nanp: error: {err}", file=sys.stderr)
        return 1
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    geo = sum(1 for e in table if e["geographic"])
    print(f"gen_nanp: {len(table)} in-service NPAs ({geo} geographic, {len(table) - geo} "
          f"non-geographic), {sum(1 for e in table if e['centroid'])} with centroid, "
          f"{sum(1 for e in table if e['overlay'])} in overlays, "
          f"{sum(1 for e in table if len(e['zones']) > 1)} multi-zone, "
          f"{sum(1 for e in table if e['derived_tz'])} zones derived from geoinfo, "
          f"{sum(1 for e in table if e['geographic'] and not e['zones'])} without zone, "
          f"{fixed_signs} geoinfo rows hemisphere-corrected; "
          f"NPA report of {file_date} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
