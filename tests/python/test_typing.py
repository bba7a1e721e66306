# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""The shipped stubs type-check real use under mypy --strict (scripts/test-packages.sh installs
mypy; elsewhere the test is skipped when mypy is not installed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

USE = textwrap.dedent(
    """
    import datetime
    import cidrot

    rot = cidrot.Rotator("memory://", time_zone="UTC", clock=cidrot.ManualClock(0))
    rot.add_numbers([{"caller_id": "2125550100"}, cidrot.Number("2125550101", hourly_limit=5)])
    result = rot.next("2125550199", "sales", ttl=datetime.timedelta(minutes=2))
    if isinstance(result, cidrot.Denial):
        reason: str = result.reason
    else:
        with result as lease:
            cid: str = lease.caller_id
            ok: bool = lease.release("answered", duration_s=3)
            expires: datetime.datetime = lease.expires_at
    page = rot.list_numbers(campaign="sales", area_codes=[212], limit=10)
    for n in page:
        used = n.last_used
    for answer in rot.next_batch([("2125550199", "sales"), {"destination": "2125550198",
                                                            "campaign": "sales"}], ttl=60):
        if isinstance(answer, cidrot.Lease):
            answer.release()
        elif isinstance(answer, cidrot.Error):
            code: str = answer.code
    count: int = rot.stats().leases_by_campaign.get("sales", 0)
    try:
        rot.import_csv("numbers.csv", campaigns=["sales"])
    except cidrot.InvalidArgument as e:
        field = e.field
    """
)

BAD = 'import cidrot\ncidrot.Rotator("memory://").next(2125550199, "sales")\n'


def test_stubs_type_check(tmp_path) -> None:
    pytest.importorskip("mypy")
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text(USE)
    bad.write_text(BAD)
    run = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path)]
    ok = subprocess.run(run + [str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = subprocess.run(run + [str(bad)], capture_output=True, text=True)
    assert wrong.returncode == 1 and "incompatible type" in wrong.stdout, wrong.stdout
