# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""The Python API over every backend: add, lease, release, list, stats, caps and expiry."""

from __future__ import annotations

import datetime as dt

import pytest

import cidrot


def add(rot: cidrot.Rotator, *caller_ids: str, **fields) -> None:
    rot.add_numbers([dict(fields, caller_id=c) for c in caller_ids])


def test_local_presence_lease_and_release(rot: cidrot.Rotator) -> None:
    add(rot, "3105550100", "2125550100", "2125550101", campaigns=["sales"])

    first = rot.next("+1 (212) 555-0199", "sales", "agent7")
    assert isinstance(first, cidrot.Lease) and first
    assert first.caller_id == "2125550100"  # same NPA; least recently used, ties: lowest number
    assert first.tier == "same_npa"
    assert first.destination == "2125550199"
    assert (first.campaign, first.agent) == ("sales", "agent7")
    assert len(first.id) == 32 and int(first.id, 16) >= 0
    assert first.expires_at - first.leased_at == dt.timedelta(seconds=300)
    assert first.leased_at.tzinfo is not None

    second = rot.next("2125550198", "sales")
    assert second and second.caller_id == "2125550101"  # the first is exclusively leased

    assert first.release("answered", duration_s=42) is True
    assert first.released
    assert first.release() is False  # idempotent
    assert rot.release(first.id) == 0

    state = rot.get_number("212-555-0100")
    assert state is not None
    assert (state.total_uses, state.active_leases) == (1, 0)
    assert state.last_disposition == "answered" and state.last_duration_s == 42
    assert state.last_used == first.leased_at


def test_lease_is_a_context_manager(rot: cidrot.Rotator) -> None:
    add(rot, "2125550100")
    with rot.next("2125550199", "c1") as lease:
        assert lease.caller_id == "2125550100"
        assert rot.stats().active_leases == 1
        assert not rot.next("2125550198", "c1")  # held for this call
    assert lease.released
    assert rot.stats().active_leases == 0

    # An exception in the call still releases the number, and propagates.
    with pytest.raises(RuntimeError):
        with rot.next("2125550199", "c1") as lease2:
            raise RuntimeError("dial failed")
    assert lease2.released and rot.stats().active_leases == 0

    # Releasing with an outcome inside the block is not undone by the exit.
    with rot.next("2125550199", "c1") as lease3:
        assert lease3.release("busy")
    assert rot.get_number("2125550100").last_disposition == "busy"


def test_denials_are_values(rot: cidrot.Rotator) -> None:
    empty = rot.next("2125550199", "sales")
    assert isinstance(empty, cidrot.Denial) and not empty
    assert empty.reason == "pool_empty" and empty.campaign == "sales"

    add(rot, "2125550100", campaigns=["sales"])
    held = rot.next("2125550199", "sales")
    assert held
    assert rot.next("2125550199", "sales").reason == "all_reserved"
    assert rot.next("2125550199", "other").reason == "pool_empty"  # not in its pool

    rot.set_campaign("local", tiers=["same_npa"])
    add(rot, "3105550100", campaigns=["local"])
    assert rot.next("2125550199", "local").reason == "no_match_in_scope"


def test_next_batch_answers_each_call_as_next_would(rot: cidrot.Rotator) -> None:
    add(rot, "2125550100", "2125550101", "3105550100", campaigns=["sales"])
    answers = rot.next_batch(
        [
            ("2125550199", "sales", "a1"),
            {"destination": "(212) 555-0198", "campaign": "sales", "agent": "a2", "ttl": 60},
            ("not a number", "sales"),
            ["2125550197", "sales"],
            ("2125550196", "sales"),
        ],
        ttl=30,
    )
    assert len(answers) == 5
    first, second, bad, third, denied = answers
    # The valid calls get distinct numbers, as next() for each in some order would.
    assert all(isinstance(a, cidrot.Lease) for a in (first, second, third))
    assert {first.caller_id, second.caller_id, third.caller_id} == {
        "2125550100", "2125550101", "3105550100"}
    assert (first.agent, second.agent, third.agent) == ("a1", "a2", "")
    assert first.expires_at - first.leased_at == dt.timedelta(seconds=30)  # the batch's ttl
    assert second.expires_at - second.leased_at == dt.timedelta(seconds=60)  # its own
    # A bad call gets its error as a value, with its position; the others stand.
    assert isinstance(bad, cidrot.InvalidArgument) and bad.index == 2
    assert bad.field == "destination"
    assert str(bad).startswith("calls[2]: destination:")  # what the index counts in
    assert isinstance(denied, cidrot.Denial) and denied.reason == "all_reserved"
    assert rot.stats().active_leases == 3
    with first:  # a batch's lease is a Lease like any other
        pass
    assert rot.stats().active_leases == 2
    assert rot.next_batch([]) == []


def test_next_batch_refuses_unusable_calls_before_leasing(rot: cidrot.Rotator) -> None:
    add(rot, "2125550100", "2125550101")
    for calls, index in [
        ([("2125550199", "c"), 42], 1),
        ([("2125550199",)], 0),
        ([("2125550199", "c", "a", "extra")], 0),
        ([("2125550199", "c"), {"destination": "2125550199"}], 1),
        ([{"destination": "2125550199", "campaign": "c", "priority": 1}], 0),
        ([("2125550199", 7)], 0),
    ]:
        with pytest.raises(cidrot.InvalidArgument) as err:
            rot.next_batch(calls)
        assert err.value.index == index
        assert str(err.value).startswith(f"calls[{index}]: ")
    with pytest.raises(cidrot.InvalidArgument):
        rot.next_batch("2125550199")
    with pytest.raises(cidrot.InvalidArgument):
        rot.next_batch((("2125550199", "c") for _ in range(10001)))
    assert rot.stats().active_leases == 0  # nothing was leased


def test_hourly_cap_and_window_roll(rot: cidrot.Rotator, clock: cidrot.ManualClock) -> None:
    add(rot, "2125550100", hourly_limit=2, daily_limit=3, max_concurrent=10)
    assert rot.next("2125550199", "c")
    assert rot.next("2125550199", "c")
    capped = rot.next("2125550199", "c")
    assert capped.reason == "all_limited"
    assert rot.get_number("2125550100").hourly_capped

    clock.advance(dt.timedelta(hours=1))
    assert rot.next("2125550199", "c")
    assert rot.next("2125550199", "c").reason == "all_limited"  # daily cap (3) now
    assert rot.stats().capped_daily == 1


def test_lease_expires_by_itself(rot: cidrot.Rotator, clock: cidrot.ManualClock) -> None:
    add(rot, "2125550100")
    lease = rot.next("2125550199", "c", ttl=30)
    assert lease.expires_at - lease.leased_at == dt.timedelta(seconds=30)
    assert not rot.next("2125550199", "c")
    clock.advance(31)
    again = rot.next("2125550199", "c")
    assert again and again.caller_id == "2125550100"
    assert lease.release() is False  # it had expired; the new lease is untouched
    assert rot.stats().active_leases == 1


def test_list_get_enable_remove(rot: cidrot.Rotator) -> None:
    result = rot.add_numbers(
        [
            {"caller_id": "2125550100", "carrier": "acme", "campaigns": "sales;support"},
            {"caller_id": "3105550100", "active": False, "meta": {"site": "LA"}},
            cidrot.Number("4155550100", hourly_limit=5),
        ]
    )
    assert (result.inserted, result.updated) == (3, 0)
    # An update replaces the configuration (usage is kept).
    assert rot.add_number("2125550100", carrier="acme2", campaigns=["support", "sales"]).updated == 1

    page = rot.list_numbers()
    assert page.total == 3 and [n.caller_id for n in page] == [
        "2125550100",
        "3105550100",
        "4155550100",
    ]
    assert [n.caller_id for n in rot.list_numbers(active=False)] == ["3105550100"]
    assert [n.caller_id for n in rot.list_numbers(campaign="support")] == [
        "2125550100",  # serves it
        "3105550100",  # serves every campaign
        "4155550100",
    ]
    assert [n.caller_id for n in rot.list_numbers(area_codes=[310, "415"])] == [
        "3105550100",
        "4155550100",
    ]
    assert [n.caller_id for n in rot.list_numbers(prefix="41")] == ["4155550100"]
    two = rot.list_numbers(limit=2, sort="caller_id", descending=True)
    assert len(two) == 2 and two.total == 3 and two.items[0].caller_id == "4155550100"

    n = rot.get_number("+1 212 555 0100")
    assert n.number.carrier == "acme2"
    assert sorted(n.number.campaigns) == ["sales", "support"]
    assert rot.get_number("3105550100").number.meta == {"site": "LA"}
    assert rot.get_number("4155550100").number.hourly_limit == 5
    assert rot.get_number("5105550100") is None

    assert rot.disable("2125550100") and not rot.get_number("2125550100").number.active
    assert rot.enable("3105550100")
    assert rot.set_active("5105550100", True) is False
    assert rot.remove_number("4155550100") and not rot.remove_number("4155550100")
    assert rot.list_numbers().total == 2


def test_stats_and_leases(rot: cidrot.Rotator) -> None:
    add(rot, "2125550100", "2125550101", "3105550100")
    rot.disable("3105550100")
    a = rot.next("2125550199", "sales")
    b = rot.next("2125550199", "support")
    s = rot.stats()
    assert (s.numbers, s.active, s.disabled) == (3, 2, 1)
    assert (s.leased_numbers, s.active_leases, s.total_uses) == (2, 2, 2)
    assert s.leases_by_campaign == {"sales": 1, "support": 1}
    by_npa = {a.npa: (a.numbers, a.available) for a in s.area_codes}
    assert by_npa[212] == (2, 0)
    d = s.to_dict()
    assert d["active_leases"] == 2 and d["leases_by_campaign"]["sales"] == 1

    leases = rot.list_leases()
    assert sorted(x.id for x in leases) == sorted([a.id, b.id])
    # A listed lease can end the call like the original object.
    assert all(x.release() for x in leases)
    assert rot.stats().active_leases == 0
    assert rot.release_caller_id("2125550100") == 0


def test_release_caller_id_ends_every_lease(rot: cidrot.Rotator) -> None:
    add(rot, "2125550100", max_concurrent=3)
    for _ in range(3):
        assert rot.next("2125550199", "c")
    assert rot.release_caller_id("(212) 555-0100", disposition="failed") == 3
    assert rot.stats().active_leases == 0


def test_campaign_settings(rot: cidrot.Rotator) -> None:
    defaults = rot.campaign("x")
    assert defaults.name == "x" and list(defaults.tiers) == list(cidrot.TIERS)
    rot.set_campaign("x", tiers=["state", "any"], lease_ttl=dt.timedelta(minutes=2))
    c = rot.campaign("x")
    assert c.tiers == ["state", "any"] and c.lease_ttl == 120
    add(rot, "3155550100", "3105550100")  # 315 is upstate New York, 310 California
    lease = rot.next("2125550199", "x")
    assert (lease.caller_id, lease.tier) == ("3155550100", "state")
    assert lease.expires_at - lease.leased_at == dt.timedelta(seconds=120)


def test_module_helpers() -> None:
    assert cidrot.normalize_nanp("1-212-555-0100") == "2125550100"
    assert {"memory", "sqlite"} <= set(cidrot.compiled_backends())
    assert cidrot.__version__.count(".") == 2
    r = cidrot.open("memory://", time_zone="America/Chicago")
    assert isinstance(r, cidrot.Rotator) and r.time_zone == "America/Chicago"
    assert r.backend == "memory"
    r.ping()


def test_call_signatures(rot: cidrot.Rotator) -> None:
    add(rot, "2125550100", max_concurrent=5)
    by_keyword = rot.next(destination="2125550199", campaign="c", agent="a1", ttl=60)
    assert by_keyword and by_keyword.agent == "a1"
    assert rot.release(lease=by_keyword, disposition="answered", duration_s=3) == 1
    assert by_keyword.released
    for bad_call in (
        lambda: rot.next(),
        lambda: rot.next("2125550199"),
        lambda: rot.next("2125550199", "c", "a", 60),  # ttl is keyword-only
        lambda: rot.next("2125550199", "c", colour="red"),
        lambda: rot.next("2125550199", campaign="c", destination="2125550198"),
        lambda: rot.next(2125550199, "c"),
        lambda: rot.release(),
        lambda: rot.release("0" * 32, duration_s="long"),
    ):
        with pytest.raises(TypeError):
            bad_call()
    with pytest.raises(cidrot.InvalidArgument):
        rot.release(42)
    lease = rot.next("2125550199", "c")
    with pytest.raises(TypeError):
        lease.release(outcome="answered")
    assert lease.release(duration_s=0) is True
    assert rot.stats().active_leases == 0
