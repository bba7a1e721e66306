# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""Reads caller-ID CSV files into the mappings Rotator.add_numbers() takes.

The format is the earlier system's bulk-import CSV, the same one `cidrot import` and the HTTP
server read: ``caller_id,carrier,area_code,daily_limit,hourly_limit,meta_json``, with or without
that header row. A header is a first row that names a ``caller_id`` column; its columns may come
in any order and these may be added:
``campaigns`` (names separated by ``;``), ``max_concurrent``, ``active`` (true/false, 1/0,
yes/no). Empty cells mean "not given" (the Rotator's default limit, no carrier, ...). Blank lines
and lines starting with ``#`` are skipped, a UTF-8 byte-order mark is ignored, and an unquoted
meta_json in the last column may contain commas. Unlike the CLI, which skips bad rows, the Python
import is all or nothing.
"""

from __future__ import annotations

import csv
import io
import os
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple, Union

from ._errors import InvalidArgument

SEED_COLUMNS: Tuple[str, ...] = (
    "caller_id",
    "carrier",
    "area_code",
    "daily_limit",
    "hourly_limit",
    "meta_json",
)
COLUMNS: Tuple[str, ...] = SEED_COLUMNS + ("campaigns", "max_concurrent", "active")

CsvSource = Union[str, "os.PathLike[str]", IO[str]]


def read_numbers(
    source: CsvSource,
    *,
    campaigns: Optional[Sequence[str]] = None,
    encoding: str = "utf-8-sig",
) -> Tuple[List[Dict[str, Any]], List[int], str]:
    """Parses a CSV file; returns (numbers, line number of each, the source's name).

    Raises InvalidArgument naming the line for a malformed file (unknown column, too many cells).
    The values themselves are validated by Rotator.add_numbers().
    """
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        with io.open(name, newline="", encoding=encoding) as f:
            return _parse(f, name, campaigns)
    return _parse(source, getattr(source, "name", "<csv>"), campaigns)


def _parse(
    f: IO[str], name: str, campaigns: Optional[Sequence[str]]
) -> Tuple[List[Dict[str, Any]], List[int], str]:
    reader = csv.reader(f)
    numbers: List[Dict[str, Any]] = []
    lines: List[int] = []
    columns: Optional[Sequence[str]] = None
    end = 0  # physical line where the previous record ended
    for row in reader:
        line, end = end + 1, reader.line_num  # a record starts after the previous one ended
        cells = [cell.strip() for cell in row]
        if not cells or all(not c for c in cells) or cells[0].startswith("#"):
            continue
        if columns is None:
            cells[0] = cells[0].lstrip("\ufeff")
            # The header is a first line that names a caller_id column, wherever it is.
            if "caller_id" in (c.lower() for c in cells):
                columns = [c.lower() for c in cells]
                for col in columns:
                    if col not in COLUMNS:
                        raise InvalidArgument(
                            f"{name}, line {line}: unknown column {col!r}; "
                            f"expected {', '.join(COLUMNS)}",
                            field=col or "columns",
                        )
                if len(set(columns)) != len(columns):
                    raise InvalidArgument(
                        f"{name}, line {line}: a column is named twice", field="columns"
                    )
                continue
            columns = SEED_COLUMNS
        if len(cells) > len(columns):
            if columns[-1] == "meta_json":
                # Hand-written files: {"state": "NY", "type": "mobile"} left unquoted.
                cells[len(columns) - 1 :] = [",".join(row[len(columns) - 1 :]).strip()]
            else:
                raise InvalidArgument(
                    f"{name}, line {line}: {len(cells)} cells, but there are only "
                    f"{len(columns)} columns ({', '.join(columns)})",
                    field="columns",
                )
        number: Dict[str, Any] = {col: cell for col, cell in zip(columns, cells) if cell != ""}
        number.setdefault("caller_id", "")
        if campaigns is not None and "campaigns" not in number:
            number["campaigns"] = list(campaigns)
        numbers.append(number)
        lines.append(line)
    return numbers, lines, name
