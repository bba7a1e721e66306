# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""The examples in docs/python.md run as written."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
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


@pytest.mark.skipif(not DOC.is_file(), reason="docs/ not next to the tests")
def test_examples_type_check(tmp_path) -> None:
    # The docs say the stubs let mypy check real use: their own examples must pass it.
    pytest.importorskip("mypy")
    (dialer,) = python_blocks("## Complete example")
    (testing,) = python_blocks("## Testing code that uses cidrot")
    files = [tmp_path / "dialer.py", tmp_path / "testing.py"]
    files[0].write_text(dialer)
    files[1].write_text("import datetime\n\nimport cidrot\n\n" + testing)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
         str(tmp_path / "cache"), *map(str, files)],
        capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
