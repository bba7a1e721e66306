# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""The examples in docs/python.md run as written."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def python_blocks(after_heading: str) -> list:
    text = DOC.read_text()
    section = text.split(after_heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.skipif(not DOC.is_file(), reason="docs/ not next to the tests")
def test_dialer_example_runs() -> None:
    (code,) = python_blocks("## Complete example")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})
    text = out.getvalue()
    assert "(same_npa)" in text  # a New York lead got a 212 number
    assert "skipping lead '555-0100'" in text  # the bad lead raised InvalidArgument
    assert "active_leases=0" in text  # every lease was released on hang-up


@pytest.mark.skipif(not DOC.is_file(), reason="docs/ not next to the tests")
def test_testing_example_runs() -> None:
    (code,) = python_blocks("## Testing code that uses cidrot")
    exec(compile("import datetime\nimport cidrot\n" + code, str(DOC), "exec"), {})
