# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""import_csv(): the earlier system's bulk-import format, with and without a header."""

from __future__ import annotations

import io

import pytest

import cidrot

SEED_CSV = """caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json
2125550100,Verizon,212,200,20,"{""site"": ""NYC""}"
+1 (310) 555-0100,AT&T,310,,,

# comments and blank lines are skipped
4155550100,,,100,10,{}
"""


def test_seed_format_with_header(rot: cidrot.Rotator, tmp_path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text(SEED_CSV)
    result = rot.import_csv(path, campaigns=["sales"])
    assert (result.inserted, result.updated) == (3, 0)

    n = rot.get_number("2125550100").number
    assert (n.carrier, n.area_code, n.daily_limit, n.hourly_limit) == ("Verizon", "212", 200, 20)
    assert n.meta == {"site": "NYC"} and n.campaigns == ["sales"]
    la = rot.get_number("3105550100").number
    assert la.carrier == "AT&T" and la.hourly_limit == 0  # empty cell: the default (no cap)
    assert rot.import_csv(str(path)).updated == 3  # re-import updates, keeps usage


def test_headerless_and_extra_columns(rot: cidrot.Rotator) -> None:
    rot.import_csv(io.StringIO("2125550100,Verizon\n3105550100\n"))
    assert rot.list_numbers().total == 2

    f = io.StringIO(
        "caller_id,campaigns,max_concurrent,active\n"
        "2125550101,sales;support,3,yes\n"
        "2125550102,,,false\n"
    )
    rot.import_csv(f)
    a = rot.get_number("2125550101").number
    assert sorted(a.campaigns) == ["sales", "support"] and a.max_concurrent == 3 and a.active
    assert not rot.get_number("2125550102").number.active

    # A header names its columns in any order; caller_id need not come first.
    rot.import_csv(io.StringIO("hourly_limit,caller_id,carrier\n7,2125550103,Lumen\n"))
    c = rot.get_number("2125550103").number
    assert (c.hourly_limit, c.carrier) == (7, "Lumen")


def test_bad_row_names_its_line_and_writes_nothing(rot: cidrot.Rotator, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\n"
        "2125550100,Verizon,212,200,20,{}\n"
        "\n"
        "2125550101,Verizon,212,lots,20,{}\n"
    )
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.import_csv(path)
    e = info.value
    assert e.field == "daily_limit" and e.index == 1
    assert str(e).startswith(f"{path}, line 4: daily_limit")
    assert rot.list_numbers().total == 0


def test_malformed_files(rot: cidrot.Rotator) -> None:
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.import_csv(io.StringIO("caller_id,colour\n2125550100,red\n"))
    assert info.value.field == "colour" and "line 1" in str(info.value)
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.import_csv(io.StringIO("2125550100,a,212,1,1,{},extra\n"))
    assert "line 1" in str(info.value)
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.import_csv(io.StringIO("caller_id\n12345\n"))
    assert info.value.field == "caller_id" and "line 2" in str(info.value)
    assert rot.list_numbers().total == 0
    assert rot.import_csv(io.StringIO("")).inserted == 0


def test_bom_and_unquoted_meta_json(rot: cidrot.Rotator, tmp_path) -> None:
    # Files saved by spreadsheet programs start with a BOM; hand-written ones leave JSON unquoted.
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbfcaller_id,carrier,area_code,daily_limit,hourly_limit,meta_json\r\n"
        b'2125550100,Verizon,212,100,10,{"state": "NY", "type": "mobile"}\r\n'
    )
    assert rot.import_csv(path).inserted == 1
    assert rot.get_number("2125550100").number.meta == {"state": "NY", "type": "mobile"}
