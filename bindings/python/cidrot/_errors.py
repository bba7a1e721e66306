# Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
"""The exceptions cidrot raises: one class per cidrot::ErrorCode, all subclasses of Error.

Expected outcomes are values, not exceptions: a call that finds no caller-ID returns a Denial and
releasing an unknown lease returns 0. Errors are for bad input and infrastructure faults.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Type


class Error(Exception):
    """Base of every cidrot exception.

    Attributes:
        code: the stable snake_case error code ("invalid_argument", "backend_unavailable", ...),
            the same names the HTTP API and the CLI use.
        field: the input field at fault ("destination", "hourly_limit", "url", ...), or None.
        message: the library's message, without the batch position.
        index: for add_numbers()/import_csv()/next_batch(), the position of the offending item,
            else None.
        batch: what `index` counts in: "numbers" (add_numbers, import_csv) or "calls"
            (next_batch); str(e) starts with "numbers[3]: " or "calls[3]: ".
    """

    code: str = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        field: Optional[str] = None,
        index: Optional[int] = None,
        batch: str = "numbers",
    ) -> None:
        self.message = message
        self.code = code or type(self).code
        self.field = field
        self.index = index
        self.batch = batch
        super().__init__(message if index is None else f"{batch}[{index}]: {message}")

    def __reduce__(self) -> Tuple[object, Tuple[object, ...]]:
        # Keeps code/field/index/batch across pickling (multiprocessing, concurrent.futures).
        return (_rebuild, (type(self), self.message, self.code, self.field, self.index, self.batch))


class InvalidArgument(Error, ValueError):
    """Bad input; .field names the offending field. Nothing was written."""

    code = "invalid_argument"


class NotFound(Error, LookupError):
    """A named number or campaign does not exist where one is required."""

    code = "not_found"


class Unsupported(Error):
    """An unknown store URL scheme or option, or a backend not compiled into this build."""

    code = "unsupported"


class BackendUnavailable(Error):
    """The store cannot be reached (connection refused, timeout). Nothing was leased or written."""

    code = "backend_unavailable"


class Corrupt(Error):
    """The store holds data this version cannot read (a newer schema, damage)."""

    code = "corrupt"


class Conflict(Error):
    """A concurrent change made the operation impossible; retrying may work."""

    code = "conflict"


class Internal(Error):
    """A bug or an unexpected fault in libcidrot."""

    code = "internal"


_BY_CODE: Dict[str, Type[Error]] = {
    cls.code: cls
    for cls in (InvalidArgument, NotFound, Unsupported, BackendUnavailable, Corrupt, Conflict, Internal)
}


def _rebuild(
    cls: Type[Error],
    message: str,
    code: str,
    field: Optional[str],
    index: Optional[int],
    batch: str = "numbers",
) -> Error:
    return cls(message, code=code, field=field, index=index, batch=batch)


def _from_native(
    code: str, message: str, field: Optional[str], index: Optional[int], batch: str = "numbers"
) -> Error:
    """Called by the extension to turn a cidrot::Error into the matching exception instance."""
    return _BY_CODE.get(code, Error)(message, code=code, field=field, index=index, batch=batch)
