# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""Python threads leasing at once: a number is never held by two calls, no lease id repeats."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import List, Set

import cidrot

THREADS = 8
CALLS_PER_THREAD = 150
NUMBERS = ["2125550100", "2125550101", "2125550102", "3105550100", "4155550100"]


def test_threads_never_share_a_lease(live_rot: cidrot.Rotator) -> None:
    rot = live_rot
    rot.add_numbers([{"caller_id": c, "campaigns": ["sales"]} for c in NUMBERS])

    held: Set[str] = set()
    held_lock = threading.Lock()
    lease_ids: List[str] = []
    denials: Counter = Counter()
    errors: List[BaseException] = []
    overlaps: List[str] = []
    start = threading.Barrier(THREADS)

    def call_centre_agent(i: int) -> None:
        try:
            start.wait()
            for k in range(CALLS_PER_THREAD):
                result = rot.next(f"212555{(i * 1000 + k) % 10000:04d}", "sales", f"agent{i}")
                if not result:
                    denials[result.reason] += 1
                    continue
                with result as lease:
                    with held_lock:
                        if lease.caller_id in held:
                            overlaps.append(lease.caller_id)
                        held.add(lease.caller_id)
                        lease_ids.append(lease.id)
                    time.sleep(0)  # let another thread run while the number is held
                    with held_lock:
                        held.discard(lease.caller_id)
        except BaseException as e:  # reported below; a thread must not die silently
            errors.append(e)

    threads = [threading.Thread(target=call_centre_agent, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a leasing thread hung"

    assert not errors, errors
    assert not overlaps, f"numbers leased to two calls at once: {overlaps[:5]}"
    assert len(lease_ids) == len(set(lease_ids))
    assert len(lease_ids) + sum(denials.values()) == THREADS * CALLS_PER_THREAD
    assert set(denials) <= {"all_reserved"}
    assert len(lease_ids) >= len(NUMBERS)
    stats = rot.stats()
    assert stats.active_leases == 0 and stats.total_uses == len(lease_ids)


def test_shared_lease_object_released_from_many_threads(live_rot: cidrot.Rotator) -> None:
    rot = live_rot
    rot.add_number("2125550100")
    lease = rot.next("2125550199", "c")
    ended: List[bool] = []
    threads = [threading.Thread(target=lambda: ended.append(lease.release())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ended.count(True) == 1 and rot.stats().active_leases == 0
