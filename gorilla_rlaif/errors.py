"""Exceptions users see. The CLI prints them as one clean line (no traceback) and exits 2.

Every message names the thing that is wrong (file and line, record id, config key) and, where
we can tell, how to fix it.
"""

from __future__ import annotations

from pathlib import Path


class GorillaRlaifError(Exception):
    """Base class: an error caused by input or configuration, not a bug in the toolkit."""


class DataError(GorillaRlaifError):
    """A data file or record is malformed. Carries the file and 1-based line when known."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)
        self.reason = message


class ConfigError(GorillaRlaifError):
    """A configuration file or command-line override is invalid."""
