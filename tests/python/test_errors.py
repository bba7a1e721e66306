# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""Errors: the cidrot.Error hierarchy, its .code/.field, and that failed calls leave nothing."""

from __future__ import annotations

import pickle

import pytest

import cidrot


def test_hierarchy_and_codes() -> None:
    expected = {
        cidrot.InvalidArgument: "invalid_argument",
        cidrot.NotFound: "not_found",
        cidrot.Unsupported: "unsupported",
        cidrot.BackendUnavailable: "backend_unavailable",
        cidrot.Corrupt: "corrupt",
        cidrot.Conflict: "conflict",
        cidrot.Internal: "internal",
    }
    for cls, code in expected.items():
        assert issubclass(cls, cidrot.Error) and cls.code == code
    assert issubclass(cidrot.InvalidArgument, ValueError)
    assert issubclass(cidrot.NotFound, LookupError)


def test_bad_destination(rot: cidrot.Rotator) -> None:
    rot.add_number("2125550100")
    for bad in ["", "12", "212555010x", "1112125550100", "9115550100", "2121115555"]:
        with pytest.raises(cidrot.InvalidArgument) as info:
            rot.next(bad, "sales")
        assert info.value.code == "invalid_argument"
        assert info.value.field == "destination"
        assert str(info.value).startswith("destination: ")
    assert rot.stats().total_uses == 0  # nothing was leased by any failed call


def test_bad_call_fields(rot: cidrot.Rotator) -> None:
    rot.add_number("2125550100")
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.next("2125550199", "bad campaign!")
    assert info.value.field == "campaign"
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.next("2125550199", "c", ttl=0)
    assert info.value.field == "ttl"
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.next("2125550199", "c", "agent\n")
    assert info.value.field == "agent"
    lease = rot.next("2125550199", "c")
    with pytest.raises(cidrot.InvalidArgument) as info:
        lease.release("hung_up_angrily")
    assert info.value.field == "disposition"
    assert not lease.released and rot.stats().active_leases == 1
    with pytest.raises(cidrot.InvalidArgument):
        rot.release("not-a-lease-id")
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.list_numbers(sort="random")
    assert info.value.field == "sort"
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.set_campaign("c", tiers=["same_npa", "galaxy"])
    assert info.value.field == "tiers"


def test_bad_batch_writes_nothing(rot: cidrot.Rotator) -> None:
    with pytest.raises(cidrot.InvalidArgument) as info:
        rot.add_numbers(
            [{"caller_id": "2125550100"}, {"caller_id": "2125550101", "hourly_limit": -1}]
        )
    e = info.value
    assert (e.index, e.field) == (1, "hourly_limit")
    assert str(e).startswith("numbers[1]: hourly_limit")
    again = pickle.loads(pickle.dumps(e))  # what the index counts in survives pickling
    assert (str(again), again.batch) == (str(e), "numbers")
    assert rot.list_numbers().total == 0

    cases = [
        ({"caller_id": "2125550100", "colour": "red"}, "colour"),
        ({"carrier": "x"}, "caller_id"),
        ({"caller_id": "2125550100", "hourly_limit": "ten"}, "hourly_limit"),
        ({"caller_id": "2125550100", "daily_limit": True}, "daily_limit"),
        ({"caller_id": "2125550100", "active": "maybe"}, "active"),
        ({"caller_id": "2125550100", "max_concurrent": 0}, "max_concurrent"),
        ({"caller_id": "2125550100", "meta_json": "[1, 2]"}, "meta"),
        ({"caller_id": "2125550100", "meta": {"a": 1}, "meta_json": "{}"}, "meta"),
        ({"caller_id": "2125550100", "area_code": "310"}, "area_code"),
        ({"caller_id": "2125550100", "campaigns": ["ok", "not ok!"]}, "campaigns"),
    ]
    for item, field in cases:
        with pytest.raises(cidrot.InvalidArgument) as info:
            rot.add_numbers([item])
        assert info.value.field == field, item
        assert info.value.index == 0
    assert rot.list_numbers().total == 0

    with pytest.raises(cidrot.InvalidArgument):
        rot.add_numbers({"caller_id": "2125550100"})  # a mapping, not a list of them


def test_store_url_errors(tmp_path) -> None:
    with pytest.raises(cidrot.Unsupported) as info:
        cidrot.Rotator("mongodb://localhost/db")
    assert info.value.field == "url" and "memory://" in str(info.value)
    with pytest.raises(cidrot.InvalidArgument) as info:
        cidrot.Rotator("not a url")
    assert info.value.field == "url"
    with pytest.raises(cidrot.Unsupported):
        cidrot.Rotator(f"sqlite://{tmp_path}/x.db?colour=red")
    with pytest.raises(cidrot.InvalidArgument) as info:
        cidrot.Rotator("memory://", time_zone="Mars/Olympus_Mons")
    assert info.value.field == "time_zone"


def test_unreachable_server_is_backend_unavailable() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    urls = {
        "redis": "redis://127.0.0.1:1/0?timeout_ms=500",
        "postgresql": "postgresql://cidrot@127.0.0.1:1/cidrot?timeout_ms=500",
    }
    tried = 0
    for backend, url in urls.items():
        if backend not in cidrot.compiled_backends():
            continue
        tried += 1
        with pytest.raises(cidrot.BackendUnavailable) as info:
            cidrot.Rotator(url).ping()
        assert info.value.code == "backend_unavailable"
    if not tried:
        pytest.skip("no network backend compiled in")


def test_errors_pickle_with_their_attributes() -> None:
    e = cidrot.InvalidArgument("hourly_limit: must not be negative", field="hourly_limit", index=3)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is cidrot.InvalidArgument
    assert (back.code, back.field, back.index, str(back)) == (
        "invalid_argument",
        "hourly_limit",
        3,
        str(e),
    )
