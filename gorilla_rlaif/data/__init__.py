"""APIBench: loading, parsing, the prompt/target format, and splits. The first stage of the flow."""

from gorilla_rlaif.data.format import (
    OUTPUT_MARKER,
    build_prompt,
    format_target,
    parse_completion,
    sft_example,
)
from gorilla_rlaif.data.load import ApiDatabase, LoadResult, load_api_db, load_records, records_from_file
from gorilla_rlaif.data.parse import parse_code_text, split_sections
from gorilla_rlaif.data.schema import (
    HUBS,
    SECTIONS,
    ApiBenchRecord,
    ApiEntry,
    Hub,
    ParsedOutput,
    ParseFailure,
)
from gorilla_rlaif.data.sources import HUB_REPO, HUB_REVISION, normalize_hub, resolve_file
from gorilla_rlaif.data.splits import STAGES, SplitConfig, Splits, make_splits

__all__ = [
    "HUBS",
    "HUB_REPO",
    "HUB_REVISION",
    "OUTPUT_MARKER",
    "SECTIONS",
    "STAGES",
    "ApiBenchRecord",
    "ApiDatabase",
    "ApiEntry",
    "Hub",
    "LoadResult",
    "ParseFailure",
    "ParsedOutput",
    "SplitConfig",
    "Splits",
    "build_prompt",
    "format_target",
    "load_api_db",
    "load_records",
    "make_splits",
    "normalize_hub",
    "parse_code_text",
    "parse_completion",
    "records_from_file",
    "resolve_file",
    "sft_example",
    "split_sections",
]
