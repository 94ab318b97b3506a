"""JSON Lines in and out, the way every stage needs it.

Why not `datasets.load_dataset("json")` or pandas here: those either drop the line number of a bad
record or stop at the first problem with a parser message that does not name the file. Stages
read user-provided files and must say exactly which line is wrong; long jobs (labeling, execution,
eval) must append results as they finish and resume after a crash, including a crash in the
middle of writing a line. That is what this module does, in ~150 lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from gorilla_rlaif.errors import DataError, OutputError

__all__ = [
    "JsonlAppender",
    "check_output",
    "read_jsonl",
    "sha256_file",
    "write_json",
    "write_jsonl",
    "write_text",
]


def _open_bytes(path: Path) -> bytes:
    import gzip

    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("expected a file, got a directory", path=path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data


def read_jsonl(
    path: str | Path, *, allow_empty: bool = False, torn_tail: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield `(line_number, object)` for each non-blank line of a JSON Lines file (`.gz` too).

    Raises `DataError` naming the file and 1-based line for: an empty file, bytes that are not
    UTF-8, a line that is not valid JSON (e.g. truncated) and a line that is not a JSON object.
    Blank lines are skipped; line numbers stay physical so they match what an editor shows.
    `torn_tail=True` skips a last line without its newline (a crash mid-write; `JsonlAppender`
    cuts it when it reopens the file).
    """
    path = Path(path)
    data = _open_bytes(path)
    if torn_tail and data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
    if not data.strip():
        if allow_empty:
            return
        raise DataError("file is empty (expected JSON Lines: one JSON object per line)", path=path)
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                path=path,
                line=number,
            ) from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            hint = " (truncated line?)" if "Unterminated" in exc.msg or "Expecting" in exc.msg else ""
            raise DataError(
                f"invalid JSON: {exc.msg} at column {exc.colno}{hint}", path=path, line=number
            ) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=number)
        yield number, obj


def atomic_write(path: str | Path, write: Callable[[IO[str]], Any]) -> Any:
    """`write(file)` into `PATH.tmp`, then rename it over `path`: a reader never sees half a file.

    On any failure (a full disk, a read-only file system, an interrupt) the temp file is removed,
    so a failed write leaves the previous file as it was and no `.tmp` behind to fill the disk;
    an `OSError` becomes an `OutputError` naming the file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with tmp.open("w", encoding="utf-8") as f:
                result = write(f)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:  # named by the file being written, not its temp file
        raise OutputError(path, exc.strerror or str(exc)) from None
    return result


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows to `path` atomically (temp file + rename). Returns the number of rows."""

    def write(f: IO[str]) -> int:
        n = 0
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        return n

    return atomic_write(path, write)


def write_json(path: str | Path, obj: Any) -> None:
    """Write pretty JSON atomically, so a reader never sees half a results file."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    atomic_write(path, lambda f: f.write(text))


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically (configs, markdown reports, cards)."""
    atomic_write(path, lambda f: f.write(text))


def check_output(path: str | Path, kind: Literal["file", "dir"] = "file") -> Path:
    """Refuse, before any work starts, an output that cannot be written: a directory given for a
    file (or a file for a directory), a parent that is a file, a read-only file system or a full
    disk. Creates nothing. Returns the path."""
    path = Path(path).expanduser()
    if kind == "file" and path.is_dir():
        raise OutputError(path, "is a directory (expected a file)")
    if kind == "dir" and path.exists() and not path.is_dir():
        raise OutputError(path, "is a file (expected a directory)")
    if path.exists():
        existing = path if path.is_dir() else path.parent
    else:
        existing = path.parent
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise OutputError(path, f"{existing} is a file, not a directory")
    stats = os.statvfs(existing)
    if stats.f_flag & os.ST_RDONLY:
        raise OutputError(path, f"read-only file system ({existing})")
    if not os.access(existing, os.W_OK) or (path.is_file() and not os.access(path, os.W_OK)):
        raise OutputError(path, "permission denied")
    if stats.f_bavail == 0:
        raise OutputError(path, f"no space left on the device ({existing})")
    return path


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content; for `.gz` files, of the decompressed bytes.

    Hashing content (not the container) gives one hash for the same data whether it was read
    from the Hub, a local plain copy or the bundled gzip.
    """
    import gzip

    path = Path(path)
    h = hashlib.sha256()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class JsonlAppender:
    """Append rows to a JSON Lines file as they are produced, and resume after a crash.

    On open, rows already in the file are read back (`.rows`, `.keys`), so a restarted job skips
    the work it has done. A process killed mid-write can leave a last line without its newline:
    that torn line is cut off (it was never a complete result). Every `append` is flushed, and
    with `fsync=True` forced to disk, so a result that was reported as written survives a crash.
    """

    def __init__(self, path: str | Path, *, key: str = "id", fsync: bool = False):
        self.path = Path(path)
        self.key = key
        self.fsync = fsync
        self.rows: list[dict[str, Any]] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                self._truncate_torn_tail()
                self.rows = [row for _, row in read_jsonl(self.path, allow_empty=True)]
            self._f = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise OutputError.from_os_error(self.path, exc) from None
        self.keys: set[Any] = {row.get(key) for row in self.rows}

    def _truncate_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with self.path.open("r+b") as f:
                f.truncate(cut)

    def __contains__(self, key: Any) -> bool:
        return key in self.keys

    def append(self, row: dict[str, Any]) -> None:
        try:
            self._f.write(json.dumps(row, ensure_ascii=False) + "\n")
            self._f.flush()
            if self.fsync:
                os.fsync(self._f.fileno())
        except OSError as exc:  # a full disk: the torn line is cut on restart
            raise OutputError.from_os_error(self.path, exc) from None
        self.rows.append(row)
        self.keys.add(row.get(self.key))

    def close(self) -> None:
        # flushing into a full disk: every row reported written was flushed already
        with contextlib.suppress(OSError):
            self._f.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
