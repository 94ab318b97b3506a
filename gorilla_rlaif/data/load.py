"""Load APIBench train/eval records and the API documentation database.

Malformed files (bad JSON, non-UTF-8, missing fields, empty) raise `DataError` naming file and
line: they are corrupt inputs. Records whose `code` text lacks the markers we parse are a property
of the data (a few dozen of APIBench's answers are free text): they are kept in order, counted
and listed in `LoadResult.failures`; `strict=True` turns them into an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gorilla_rlaif.config import describe_errors
from gorilla_rlaif.data.parse import parse_code_text
from gorilla_rlaif.data.schema import ApiBenchRecord, ApiEntry, FileSplit, Hub, ParseFailure
from gorilla_rlaif.data.sources import ResolvedFile, Source, normalize_hub, resolve_file
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.io import read_jsonl

log = logging.getLogger(__name__)

_RECORD_FIELDS = ("code", "api_call", "provider", "api_data")


@dataclass
class LoadResult:
    """Records of one file, in file order, plus the parse failures among them."""

    hub: Hub
    split: str
    file: dict[str, str]
    records: list[ApiBenchRecord]
    failures: list[ParseFailure] = field(default_factory=list)

    @property
    def parsed(self) -> list[ApiBenchRecord]:
        """Records with an instruction and all five sections (usable as training targets)."""
        return [r for r in self.records if r.ok]

    def summary(self) -> str:
        return (
            f"{self.file['file']}: {len(self.records)} records, {len(self.records) - len(self.failures)} parsed, "
            f"{len(self.failures)} not parsed"
        )


@dataclass
class ApiDatabase:
    """The API documentation entries of one hub, in file order (matching order matters)."""

    hub: Hub
    file: dict[str, str]
    entries: list[ApiEntry]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)


def records_from_file(
    path: str | Path, hub: str, split: str, *, strict: bool = False, display_name: str | None = None
) -> LoadResult:
    """Load and parse one train/eval file (plain or .gz JSON Lines)."""
    hub = normalize_hub(hub)
    path = Path(path)
    name = display_name or path.name.removesuffix(".gz")
    records: list[ApiBenchRecord] = []
    failures: list[ParseFailure] = []
    for index, (line, obj) in enumerate(read_jsonl(path)):
        missing = [k for k in _RECORD_FIELDS if k not in obj]
        if missing:
            raise DataError(
                f"record is missing field(s) {', '.join(repr(m) for m in missing)} "
                f"(APIBench records have {', '.join(_RECORD_FIELDS)})",
                path=path,
                line=line,
            )
        if not isinstance(obj["code"], str):
            raise DataError(
                f"field 'code' must be a string, got {type(obj['code']).__name__}", path=path, line=line
            )
        try:
            api_data = ApiEntry.model_validate(obj["api_data"])
        except ValidationError as exc:
            raise DataError(describe_errors(exc, prefix="api_data."), path=path, line=line) from None
        parsed = parse_code_text(obj["code"])
        record = ApiBenchRecord(
            id=f"{hub}/{split}/{index + 1}",
            hub=hub,
            split=split,
            index=index,
            line=line,
            source_file=name,
            instruction=parsed.instruction,
            input=parsed.input,
            output=parsed.output,
            parse_error=parsed.error,
            extra_sections=parsed.extra_sections,
            api_call=str(obj["api_call"]),
            provider=str(obj["provider"]),
            api_data=api_data,
            raw_code=obj["code"],
        )
        records.append(record)
        if parsed.error:
            failures.append(
                ParseFailure(source_file=name, line=line, question_id=index + 1, reason=parsed.error)
            )
    if strict and failures:
        shown = "\n  ".join(str(f) for f in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise DataError(
            f"{len(failures)} record(s) could not be parsed (strict mode):\n  {shown}{more}", path=path
        )
    if failures:
        log.info(
            "%s: %d of %d records not parsed (kept, see LoadResult.failures)",
            name,
            len(failures),
            len(records),
        )
    return LoadResult(
        hub=hub, split=split, file={"file": name, "path": str(path)}, records=records, failures=failures
    )


def load_records(
    hub: str,
    split: FileSplit = "eval",
    *,
    data_dir: str | Path | None = None,
    source: Source = "auto",
    revision: str | None = None,
    strict: bool = False,
) -> LoadResult:
    """Records of `{hub}_{split}` from the first available source (see `data.sources`)."""
    kwargs: dict[str, Any] = {"data_dir": data_dir, "source": source}
    if revision:
        kwargs["revision"] = revision
    resolved: ResolvedFile = resolve_file(hub, split, **kwargs)
    result = records_from_file(resolved.path, hub, split, strict=strict, display_name=resolved.name)
    result.file = resolved.describe()
    return result


def api_db_from_file(path: str | Path, hub: str, display_name: str | None = None) -> ApiDatabase:
    hub = normalize_hub(hub)
    entries = []
    for line, obj in read_jsonl(path):
        try:
            entries.append(ApiEntry.model_validate(obj))
        except ValidationError as exc:
            raise DataError(f"API entry: {describe_errors(exc)}", path=path, line=line) from None
    name = display_name or Path(path).name.removesuffix(".gz")
    return ApiDatabase(hub=hub, file={"file": name, "path": str(path)}, entries=entries)


def load_api_db(
    hub: str,
    *,
    data_dir: str | Path | None = None,
    source: Source = "auto",
    revision: str | None = None,
) -> ApiDatabase:
    """The API documentation database of a hub, in file order."""
    kwargs: dict[str, Any] = {"data_dir": data_dir, "source": source}
    if revision:
        kwargs["revision"] = revision
    resolved = resolve_file(hub, "api", **kwargs)
    db = api_db_from_file(resolved.path, hub, display_name=resolved.name)
    db.file = resolved.describe()
    return db
