# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""Fixtures: every test that takes `store_url` runs once per backend.

memory:// and SQLite always run. Redis and PostgreSQL run against real servers when
CIDROT_TEST_REDIS_URL / CIDROT_TEST_POSTGRES_URL are set (CI sets them), e.g.
    CIDROT_TEST_REDIS_URL=redis://127.0.0.1:6390/0
    CIDROT_TEST_POSTGRES_URL=postgresql://cidrot@127.0.0.1:5433/cidrot
and are skipped otherwise. When a variable is set the backend must be compiled in: a build that
silently dropped it fails here instead of skipping. Each test gets its own namespace (Redis key
prefix, PostgreSQL schema, SQLite file), so tests never see each other's numbers.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Iterator

import pytest

import cidrot

REMOTE = {
    "redis": ("CIDROT_TEST_REDIS_URL", "prefix"),
    "postgresql": ("CIDROT_TEST_POSTGRES_URL", "schema"),
}

# A fixed instant for ManualClock tests: 10:15 UTC on a weekday, mid-hour.
T0 = dt.datetime(2030, 1, 15, 10, 15, 0, tzinfo=dt.timezone.utc)


def fresh_url(backend: str, tmp_path) -> str:
    """A URL of an empty store of `backend` (a new namespace each call)."""
    token = "pyt" + uuid.uuid4().hex[:16]
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite://{tmp_path / (token + '.db')}"
    env, key = REMOTE[backend]
    base = os.environ.get(env, "")
    if not base:
        pytest.skip(f"{env} is not set (no {backend} server for this run)")
    if backend not in cidrot.compiled_backends():
        pytest.fail(f"{env} is set but this build of cidrot has no {backend} backend "
                    f"(compiled: {cidrot.compiled_backends()})")
    if "{n}" in base:
        url = base.replace("{n}", token)
    else:
        url = f"{base}{'&' if '?' in base else '?'}{key}={token}"
    if "timeout_ms=" not in url:
        # The default deadline (5 s) is for production; a CI machine running the C++ suites at the
        # same time can stall a lease longer than that without anything being wrong.
        url += f"{'&' if '?' in url else '?'}timeout_ms=30000"
    return url


@pytest.fixture(params=["memory", "sqlite", "redis", "postgresql"])
def backend(request) -> str:
    if request.param == "sqlite" and "sqlite" not in cidrot.compiled_backends():
        pytest.fail("the SQLite backend is always built, but this cidrot has none")
    return request.param


@pytest.fixture
def store_url(backend: str, tmp_path) -> str:
    return fresh_url(backend, tmp_path)


def _cleanup(rot: cidrot.Rotator) -> None:
    # Shared servers keep what tests wrote; leave their namespaces empty.
    while True:
        page = rot.list_numbers(limit=1000)
        for n in page:
            rot.remove_number(n.caller_id)
        if len(page) == 0 or page.total <= len(page):
            break


@pytest.fixture
def clock() -> cidrot.ManualClock:
    return cidrot.ManualClock(T0)


@pytest.fixture
def rot(store_url: str, clock: cidrot.ManualClock) -> Iterator[cidrot.Rotator]:
    """A Rotator over an empty store, in UTC, on a manual clock."""
    r = cidrot.Rotator(store_url, time_zone="UTC", clock=clock)
    yield r
    if r.backend in REMOTE:
        _cleanup(r)


@pytest.fixture
def live_rot(store_url: str) -> Iterator[cidrot.Rotator]:
    """A Rotator over an empty store on the system clock (for tests with real threads)."""
    r = cidrot.Rotator(store_url, time_zone="UTC")
    yield r
    if r.backend in REMOTE:
        _cleanup(r)
