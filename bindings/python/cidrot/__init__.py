# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""cidrot: outbound caller-ID rotation for call centres (Python binding of libcidrot).

Picks the caller-ID for each outbound call: local presence first (same area code, overlay, state,
nearby, time zone, then anything in the campaign's pool), least recently used first, under hourly
and daily caps, with an exclusive lease per call that is released when the call ends::

    import cidrot

    rot = cidrot.Rotator("sqlite:///var/lib/cidrot/cidrot.db", time_zone="America/New_York")
    rot.add_numbers([{"caller_id": "212-555-0100", "campaigns": ["sales"], "hourly_limit": 20}])

    result = rot.next("+1 212 555 0199", campaign="sales", agent="agent7")
    if not result:                      # a Denial: no caller-ID free right now
        print("no caller-ID:", result.reason)
    else:
        with result as lease:           # released when the block ends
            dial(lease.caller_id)
            lease.release("answered", duration_s=42)

Every Rotator method is thread-safe and releases the GIL while it waits on the store. Errors are
cidrot.Error subclasses carrying .code and .field; a denial is a value, not an error.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

from . import _cidrot, _csv
from ._cidrot import (
    TIERS,
    AreaCodeStats,
    Campaign,
    Clock,
    Denial,
    Lease,
    ManualClock,
    Number,
    NumberPage,
    NumberState,
    Stats,
    SystemClock,
    UpsertResult,
    compiled_backends,
    default_store_url,
    normalize_nanp,
)
from ._errors import (
    BackendUnavailable,
    Conflict,
    Corrupt,
    Error,
    Internal,
    InvalidArgument,
    NotFound,
    Unsupported,
)

__version__: str = _cidrot.version()

# Tracebacks and reprs name the public home of the exceptions (cidrot.InvalidArgument, ...).
for _cls in (Error, InvalidArgument, NotFound, Unsupported, BackendUnavailable, Corrupt, Conflict,
             Internal):
    _cls.__module__ = __name__
del _cls

#: What Rotator.next() returns: a Lease (truthy) or a Denial (falsy).
LeaseResult = Union[Lease, Denial]

__all__ = [
    "AreaCodeStats",
    "BackendUnavailable",
    "Campaign",
    "Clock",
    "Conflict",
    "Corrupt",
    "Denial",
    "Error",
    "Internal",
    "InvalidArgument",
    "Lease",
    "LeaseResult",
    "ManualClock",
    "NotFound",
    "Number",
    "NumberPage",
    "NumberState",
    "Rotator",
    "Stats",
    "SystemClock",
    "TIERS",
    "Unsupported",
    "UpsertResult",
    "compiled_backends",
    "default_store_url",
    "normalize_nanp",
    "open",
    "__version__",
]


class Rotator(_cidrot.Rotator):
    __doc__ = _cidrot.Rotator.__doc__

    def add_number(self, caller_id: str, **fields: Any) -> UpsertResult:
        """Adds or updates one number; keyword arguments as the keys of add_numbers()."""
        return self.add_numbers([dict(fields, caller_id=caller_id)])

    def import_csv(
        self,
        source: _csv.CsvSource,
        *,
        campaigns: Optional[Sequence[str]] = None,
        encoding: str = "utf-8-sig",
    ) -> UpsertResult:
        """Adds or updates the numbers of a CSV file (a path or an open text file).

        Columns: caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json (the earlier
        system's format, as `cidrot import` reads it; header optional), plus campaigns (names
        separated by ';'), max_concurrent and active when named in a header. `campaigns` is given
        to rows that name none. All or nothing: an invalid row raises InvalidArgument naming its
        line, and nothing is written.
        """
        numbers, lines, name = _csv.read_numbers(source, campaigns=campaigns, encoding=encoding)
        try:
            return self.add_numbers(numbers)
        except InvalidArgument as e:
            if e.index is None:
                raise
            err = InvalidArgument(f"{name}, line {lines[e.index]}: {e.message}", field=e.field)
            err.index = e.index
            raise err from None

    def enable(self, caller_id: str) -> bool:
        """set_active(caller_id, True)."""
        return self.set_active(caller_id, True)

    def disable(self, caller_id: str) -> bool:
        """set_active(caller_id, False): never picked again; current leases run to their end."""
        return self.set_active(caller_id, False)


def open(  # noqa: A001 - cidrot.open(url) reads like sqlite3.connect(url)
    store: str = "memory://",
    *,
    time_zone: str = "",
    default_hourly_limit: int = 0,
    default_daily_limit: int = 0,
    clock: Optional[Clock] = None,
) -> Rotator:
    """Opens a store by URL and returns a Rotator over it (same as Rotator(store, ...))."""
    return Rotator(
        store,
        time_zone=time_zone,
        default_hourly_limit=default_hourly_limit,
        default_daily_limit=default_daily_limit,
        clock=clock,
    )

