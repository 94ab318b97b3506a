"""Gorilla's AST accuracy and hallucination, re-implemented to give the same verdict per response.

Gorilla's evaluators (`eval/eval-scripts/ast_eval_{hf,tf,th}.py` in ShishirPatil/gorilla) decide
for each response whether the API it calls is in the hub's documentation database, and whether
that API has the gold record's domain. We follow them step by step (default mode), keeping every
quirk, because published numbers were measured with them:

1. **Extraction** (`extract_api_call`). `text.split("api_call")[1]` (so the span ends at a second
   `api_call`, if any), cut at the first `api_provider`; from two characters after the first `:`
   (or from character 2 when there is no colon) to the last `)` inclusive (or, without `)`, up to
   the last character exclusive). Leftovers such as `>>>: ` or a trailing `, <<<` are kept.
   Without any `api_call` marker, HuggingFace and TensorFlow Hub parse the *whole* response;
   TorchHub scores it as neither correct nor hallucination (verdict "error").
2. **Parsing** with tree-sitter, which never fails (error-tolerant): Python's `ast` rejects about
   half of the extracted spans because of those leftovers.
3. **Candidate subtrees** (`_subtrees`): every node of the response's tree that has children,
   in Gorilla's stack order (a pop-from-the-end depth-first walk), each keyed by the text of its
   first child (for a call `f.g(x)`, the callee `f.g`).
4. **Database entries**: each entry's `api_call` is parsed once. Its function name is the first
   child of the first statement's first node (the callee for a bare call; for `m = f(x)` it is `m`,
   and such entries never match). Required values (quotes stripped, single quotes only, as Gorilla):

   | hub | required values |
   |---|---|
   | huggingface | every positional argument text and every keyword argument's value |
   | tensorflowhub | the value of a keyword argument whose text contains `model=`/`model =`; every other argument's whole text (`trainable=True` too) |
   | torchhub | the value of every argument whose text contains `repo_or_dir` or `model` |

   An entry with no required value never matches.
5. **Matching** walks the entries in file order; the first one whose required values are all
   substrings of the candidate subtree text wins. The candidate is the first subtree keyed by the
   entry's function name, and -- Gorilla's most surprising quirk -- when no subtree has that name,
   the *last* subtree of the walk (Python's for-loop variable after a loop without `break`). So
   `Swin2SRForConditionalGeneration.from_pretrained(...)` "matches" `pipeline('ner')` because
   the callee text contains "ner". No match: hallucination; a match with the gold record's domain:
   correct; otherwise error.

**Strict mode** (`strict=True`) asks the question users usually mean: did the response call the
gold API? A response's call must name the entry's function exactly (no fall-through) and contain
each required value as a whole argument value (not a substring; either quote style); among the
entries that match, the most specific one (most required values, then file order) wins; the
response is correct when that entry has the gold entry's function and required values. Several
database entries may share those (the same model listed twice): they count as the same API.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from gorilla_rlaif.data import ApiDatabase, ApiEntry, normalize_hub

log = logging.getLogger(__name__)

Verdict = Literal["correct", "hallucination", "error"]
VERDICTS: tuple[str, ...] = ("correct", "hallucination", "error")

_PUNCTUATION = ("(", ")", ",")


@lru_cache(maxsize=1)
def _parser() -> Any:
    """One tree-sitter parser per process (the same Python grammar codebleu uses)."""
    import tree_sitter_python
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_python.language()))


def parse_tree(code: str) -> Any:
    """The tree-sitter root node of `code` (never raises: syntax errors become ERROR nodes)."""
    return _parser().parse(code.encode("utf-8")).root_node


def extract_api_call(text: str, hub: str) -> str | None:
    """The span of a response Gorilla parses as its API call (None: TorchHub without a marker)."""
    parts = text.split("api_call")
    if len(parts) == 1:
        return None if normalize_hub(hub) == "torchhub" else text
    span = parts[1].split("api_provider")[0]
    start = span.index(":") if ":" in span else 0
    end = span.rindex(")") if ")" in span else -2
    return span[start + 2 : end + 1]


def _subtrees(root: Any) -> list[tuple[bytes | None, Any]]:
    """(first child's text, node) for the root and every node with children, in Gorilla's order."""
    stack = [root]
    out: list[tuple[bytes | None, Any]] = []
    while stack:
        node = stack.pop()
        out.append((node.children[0].text if node.child_count > 0 else None, node))
        stack.extend(child for child in node.children if child.child_count != 0)
    return out


def _strip_single(value: bytes) -> str:
    return value.decode("utf-8", "replace").lstrip("'").rstrip("'")


def _strip_quotes(value: str) -> str:
    value = value.strip()
    for quote in ('"""', "'''", '"', "'"):
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            return value[len(quote) : -len(quote)]
    return value


def _compact(text: str) -> str:
    return "".join(text.split())


def _required_args(argument_list: Any, hub: str) -> list[Any]:
    """The argument nodes whose text (or value) must appear, by Gorilla's per-hub rule.

    Returns (node whose text is required) for each; see the table in the module docstring.
    """
    required = []
    for child in argument_list.children:
        text = child.text.decode("utf-8", "replace")
        if hub == "huggingface":
            if "=" in text:
                required.append(child.children[2] if child.child_count > 2 else None)
            elif text not in _PUNCTUATION:
                required.append(child)
        elif hub == "tensorflowhub":
            if "model=" in text or "model =" in text:
                required.append(child.children[2] if child.child_count > 2 else None)
            elif text not in _PUNCTUATION:
                required.append(child)
        elif "repo_or_dir" in text or "model" in text:
            required.append(child.children[2] if child.child_count > 2 else None)
    return required


def _call_values(call: Any) -> set[str]:
    """Every argument value of a call node, normalised for strict comparison.

    A positional argument gives its value; a keyword argument gives its value and `key=value`
    (whitespace removed), so a required `trainable=True` (TF) or a bare value both match.
    """
    values: set[str] = set()
    arguments = call.child_by_field_name("arguments")
    if arguments is None:
        return values
    for child in arguments.named_children:
        if child.type == "keyword_argument" and child.child_count > 2:
            value = child.children[2].text.decode("utf-8", "replace")
            values.add(_strip_quotes(value))
            values.add(_compact(child.text.decode("utf-8", "replace")))
        else:
            values.add(_strip_quotes(child.text.decode("utf-8", "replace")))
    return values


@dataclass(frozen=True)
class _IndexedEntry:
    index: int
    name: bytes
    values: tuple[str, ...]  # Gorilla: substrings that must appear (single quotes stripped)
    strict_values: tuple[str, ...]  # strict: whole argument values (any quotes stripped)

    @property
    def key(self) -> tuple[bytes, frozenset[str]]:
        return self.name, frozenset(self.strict_values)


def index_api_call(api_call: str, hub: str, index: int = -1) -> _IndexedEntry | None:
    """Parse one `api_call` the way Gorilla parses database entries; None if it can never match."""
    root = parse_tree(api_call)
    if root.child_count == 0 or root.children[0].child_count == 0:
        return None
    first = root.children[0].children[0]
    if first.child_count < 2:
        return None  # Gorilla: `child_count == 0` skips it; with one child there are no arguments
    name = first.children[0].text
    nodes = _required_args(first.children[1], hub)
    if not nodes or any(node is None for node in nodes):
        # None: a `key=value`-looking argument without a value node; Gorilla would crash on it.
        return None
    values = tuple(_strip_single(node.text) for node in nodes)
    strict_values = tuple(
        _compact(node.text.decode("utf-8", "replace"))
        if node.type == "keyword_argument"  # TF keeps non-`model` keyword arguments whole
        else _strip_quotes(node.text.decode("utf-8", "replace"))
        for node in nodes
    )
    return _IndexedEntry(index=index, name=name, values=values, strict_values=strict_values)


@dataclass(frozen=True)
class Match:
    """The database entry a response was matched to."""

    entry: ApiEntry
    index: int  # position of the entry in the database (file order, 0-based)
    call_text: str  # the span extracted from the response (`extract_api_call`)
    node_text: str  # the text of the subtree whose contents satisfied the entry


@dataclass(frozen=True)
class AstVerdict:
    """The verdict for one response. `strict_correct` is None when no gold API was given."""

    verdict: Verdict
    matched_api: str | None
    match: Match | None
    strict_correct: bool | None
    reason: str


class ApiMatcher:
    """A hub's API database, parsed once and indexed by function name. Thread-compatible, reusable."""

    def __init__(self, hub: str, entries: Sequence[ApiEntry]):
        self.hub = normalize_hub(hub)
        self.entries = list(entries)
        self._indexed: list[_IndexedEntry] = []
        self._by_name: dict[bytes, list[_IndexedEntry]] = {}
        self._at: dict[int, _IndexedEntry] = {}
        for i, entry in enumerate(self.entries):
            indexed = index_api_call(entry.api_call, self.hub, i)
            if indexed is None:
                continue
            self._indexed.append(indexed)
            self._at[i] = indexed
            self._by_name.setdefault(indexed.name, []).append(indexed)
        log.debug("%s: %d of %d API entries can match", self.hub, len(self._indexed), len(self.entries))

    @classmethod
    def from_db(cls, db: ApiDatabase) -> ApiMatcher:
        return cls(db.hub, db.entries)

    def __len__(self) -> int:
        return len(self._indexed)

    # -- matching ------------------------------------------------------------------------------
    def match(self, text: str, *, strict: bool = False) -> Match | None:
        """The entry a whole model response calls (Gorilla's rules; see the module docstring)."""
        call_text = extract_api_call(text, self.hub)
        if call_text is None:
            return None
        found = self._match_strict(call_text) if strict else self._match_gorilla(call_text)
        if found is None:
            return None
        indexed, node_text = found
        return Match(
            entry=self.entries[indexed.index], index=indexed.index, call_text=call_text, node_text=node_text
        )

    def _match_gorilla(self, call_text: str) -> tuple[_IndexedEntry, str] | None:
        subtrees = _subtrees(parse_tree(call_text))
        first_by_name: dict[bytes | None, Any] = {}
        for name, node in subtrees:
            first_by_name.setdefault(name, node)
        last_text = subtrees[-1][1].text.decode("utf-8", "replace")
        texts: dict[bytes, str] = {}
        for indexed in self._indexed:
            text = texts.get(indexed.name)
            if text is None:
                node = first_by_name.get(indexed.name)
                text = last_text if node is None else node.text.decode("utf-8", "replace")
                texts[indexed.name] = text
            if all(value in text for value in indexed.values):
                return indexed, text
        return None

    def _match_strict(self, call_text: str) -> tuple[_IndexedEntry, str] | None:
        best: tuple[int, int, _IndexedEntry, str] | None = None
        for name, node in _subtrees(parse_tree(call_text)):
            if node.type != "call" or name not in self._by_name:
                continue
            values = _call_values(node)
            for indexed in self._by_name[name]:
                if all(v in values for v in indexed.strict_values):
                    rank = (-len(indexed.strict_values), indexed.index)
                    if best is None or rank < best[:2]:
                        best = (*rank, indexed, node.text.decode("utf-8", "replace"))
        return None if best is None else (best[2], best[3])

    # -- verdicts ------------------------------------------------------------------------------
    def gold_key(self, gold_api_call: str) -> tuple[bytes, frozenset[str]] | None:
        indexed = index_api_call(gold_api_call, self.hub)
        return None if indexed is None else indexed.key

    def verdict(
        self,
        text: str,
        gold_domain: str,
        gold_api_call: str | None = None,
        strict: bool = False,
    ) -> AstVerdict:
        """Gorilla's verdict for one response (or the strict one), plus strict correctness."""
        gorilla = self.match(text)
        strict_match = self.match(text, strict=True) if (strict or gold_api_call is not None) else None
        strict_correct: bool | None = None
        strict_reason = ""
        if gold_api_call is not None:
            gold = self.gold_key(gold_api_call)
            if gold is None:
                strict_correct, strict_reason = False, f"gold api_call {gold_api_call!r} has no callable form"
            elif strict_match is None:
                strict_correct = False
                strict_reason = self._explain_no_strict_match(text)
            else:
                matched = self._indexed_at(strict_match.index)
                strict_correct = matched.key == gold
                if not strict_correct:
                    strict_reason = (
                        f"calls {strict_match.entry.api_call!r}, not the gold {gold_api_call!r}"
                    )
        chosen = strict_match if strict else gorilla
        if chosen is None:
            if extract_api_call(text, self.hub) is None:
                verdict: Verdict = "error"
                reason = "no api_call marker (TorchHub scores this as an error)"
            else:
                verdict, reason = "hallucination", "no database API matches the call"
        elif chosen.entry.domain == gold_domain:
            verdict, reason = "correct", f"matched entry {chosen.index} of domain {gold_domain!r}"
        else:
            verdict = "error"
            reason = f"matched entry {chosen.index} of domain {chosen.entry.domain!r}, gold is {gold_domain!r}"
        if strict and strict_correct is not None and not strict_correct and verdict == "correct":
            verdict, reason = "error", strict_reason
        if strict_reason and not strict:
            reason = f"{reason}; strict: {strict_reason}"
        return AstVerdict(
            verdict=verdict,
            matched_api=chosen.entry.api_call if chosen is not None else None,
            match=chosen,
            strict_correct=strict_correct,
            reason=reason,
        )

    def _indexed_at(self, index: int) -> _IndexedEntry:
        return self._at[index]

    def _explain_no_strict_match(self, text: str) -> str:
        call_text = extract_api_call(text, self.hub)
        if call_text is None:
            return "no api_call marker"
        calls = [name for name, node in _subtrees(parse_tree(call_text)) if node.type == "call"]
        known = [n.decode("utf-8", "replace") for n in calls if n in self._by_name]
        if not calls:
            return f"no function call in the api_call span {call_text.strip()[:80]!r}"
        if not known:
            return f"calls {', '.join(n.decode('utf-8', 'replace') for n in calls if n)} (no such function in the database)"
        return f"no entry of {', '.join(known)} has all its argument values as whole arguments"
