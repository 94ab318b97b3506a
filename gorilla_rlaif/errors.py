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


class OutputError(GorillaRlaifError):
    """An output cannot be written: a directory where a file should go (or the reverse), a
    read-only file system, a full disk. Names the path and the operating system's reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}")

    @classmethod
    def from_os_error(cls, path: str | Path, exc: OSError) -> OutputError:
        return cls(exc.filename or path, exc.strerror or str(exc))
