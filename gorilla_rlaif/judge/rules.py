"""The `rules` judge: deterministic answers from parsing the code and matching the API database.

Fast, offline and free: the embedded default and a baseline for the LLM judges. Each question of
the default rubric maps to a check (a custom rubric may use any subset of these ids):

| question          | check                                                                         |
|-------------------|-------------------------------------------------------------------------------|
| `imports`         | no undefined name (pyflakes) that is import-like: used as `name.attr`, a      |
|                   | CamelCase class, or a name some API example of the hub imports                |
| `syntax`          | the `code` section is non-empty and `compile()`s                              |
| `undefined_names` | pyflakes reports an undefined name that is not import-like, or an undefined   |
|                   | local (desirable: no)                                                         |
| `bug_free`        | compiles, and pyflakes reports nothing but style warnings (unused imports and |
|                   | variables, redefinitions): undefined names, misplaced return/yield/break,     |
|                   | bad %-formats, `is` with a literal, ... are bugs                              |
| `complete`        | all five sections present and non-empty; the code makes a call, uses the API  |
|                   | named in `api_call`, and has no placeholder (`...`, TODO, `<your ...>`)       |
| `api_exists`      | Gorilla's AST matcher finds the called API in the hub's database              |
| `api_fits`        | with the gold API: the matched API has the gold's domain (Gorilla's "correct")|
|                   | without: the matched API is among the 5 entries closest to the instruction    |
|                   | (token overlap with name, functionality and description)                      |
| `arguments`       | with the gold API: the matched entry is the gold entry (every required        |
|                   | argument value present: Gorilla's strict match); without: an entry matched    |

Why pyflakes and `compile` rather than our own analysis: they are the standard, well-kept tools
for exactly these questions. When the code does not parse, pyflakes cannot run: names are then
read with a regular-expression fallback (documented in `_regex_names`).
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gorilla_rlaif.data import SECTIONS, parse_completion
from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.judge.base import Judge, JudgeConfig, JudgeItem, Judgment, OnResult
from gorilla_rlaif.judge.rubric import Rubric

CHECKS = (
    "imports",
    "syntax",
    "undefined_names",
    "bug_free",
    "complete",
    "api_exists",
    "api_fits",
    "arguments",
)

# pyflakes messages that are style, not bugs: code with only these runs as intended.
STYLE_MESSAGES = {
    "UnusedImport",
    "UnusedVariable",
    "UnusedAnnotation",
    "UnusedIndirectAssignment",
    "RedefinedWhileUnused",
    "ImportShadowedByLoopVar",
    "ImportStarUsed",
    "ImportStarUsage",
    "FStringMissingPlaceholders",
    "TStringMissingPlaceholders",
}
COMMON_IMPORTS = {
    "torch", "torchvision", "torchaudio", "transforms", "nn", "F", "tf", "tensorflow", "hub", "tensorflow_hub",
    "keras", "np", "numpy", "pd", "pandas", "plt", "matplotlib", "PIL", "Image", "requests", "transformers",
    "datasets", "load_dataset", "pipeline", "cv2", "os", "io", "json", "urllib", "BytesIO", "sf", "soundfile",
    "librosa", "scipy", "sklearn", "math", "random", "re", "sys", "time", "tokenizers",
}  # fmt: skip
PLACEHOLDER = re.compile(r"TODO|FIXME|<\s*your[^>]*>|\byour_code_here\b|^\s*\.\.\.\s*$", re.I | re.M)
_WORDS = re.compile(r"[a-z][a-z0-9]+")
_STOP = set(
    [
        "a",
        "an",
        "and",
        "the",
        "to",
        "of",
        "for",
        "in",
        "on",
        "with",
        "that",
        "this",
        "is",
        "are",
        "be",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "can",
        "from",
        "by",
        "as",
        "at",
        "or",
    ]
)


@dataclass
class CodeFacts:
    """What the checks need to know about one completion."""

    sections: dict[str, str]
    code: str
    syntax_error: str | None = None
    undefined: list[str] = field(default_factory=list)
    import_like: list[str] = field(default_factory=list)
    undefined_locals: list[str] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)

    @property
    def parses(self) -> bool:
        return bool(self.code.strip()) and self.syntax_error is None


def extract_code(sections: dict[str, str]) -> str:
    code = sections.get("code", "") or ""
    fence = re.search(r"```(?:python|py)?\s*\n(.*?)(?:```|$)", code, re.S)
    if fence:
        code = fence.group(1)
    return textwrap.dedent(code).strip("\n")


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):  # e.g. AutoModel.from_pretrained(...).to(...)
        inner = _dotted(node.func)
        return f"{inner}().{'.'.join(reversed(parts))}" if inner else None
    return None


_CALL = re.compile(r"([A-Za-z_][\w.]*)\s*\(")
_DEFINED = re.compile(
    r"^\s*(?:import\s+([\w.]+)(?:\s+as\s+(\w+))?|from\s+[\w.]+\s+import\s+\(?([\w\s,]+)\)?|def\s+(\w+)|class\s+(\w+))"
    r"|^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=[^=]|\bfor\s+([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s+in\b"
    r"|\bas\s+(\w+)\s*:",
    re.M,
)


def _regex_names(code: str) -> tuple[list[str], list[str]]:
    """(used names, calls) for code that does not parse: the first identifier of every call
    or attribute access that is neither defined by an import/assignment/def/for nor a builtin."""
    defined: set[str] = set()
    for m in _DEFINED.finditer(code):
        for group in m.groups():
            if group:
                defined.update(
                    p.strip().split(" as ")[-1].split(".")[0] for p in group.split(",") if p.strip()
                )
    calls = [m.group(1) for m in _CALL.finditer(code)]
    used = {c.split(".")[0] for c in calls} | set(re.findall(r"\b([A-Za-z_]\w*)\.\w", code))
    strings = set(re.findall(r"['\"]([^'\"]*)['\"]", code))
    undefined = sorted(
        n for n in used if n not in defined and not hasattr(builtins, n) and not any(n in s for s in strings)
    )
    return undefined, calls


def analyze(completion: str, known_imports: set[str]) -> CodeFacts:
    """Parse a completion's sections and code; run compile and pyflakes on the code."""
    from pyflakes import checker, messages

    sections = parse_completion(completion)
    code = extract_code(sections)
    facts = CodeFacts(sections=sections, code=code, placeholders=PLACEHOLDER.findall(code))
    if not code.strip():
        facts.syntax_error = "no code section" if "code" not in sections else "empty code section"
        return facts
    try:
        tree = ast.parse(code)
        compile(tree, "<candidate>", "exec")
    except (SyntaxError, ValueError) as exc:
        facts.syntax_error = (
            f"{type(exc).__name__}: {getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', '?')})"
        )
        undefined, facts.calls = _regex_names(code)
        facts.undefined = undefined
    else:
        facts.calls = [
            name for node in ast.walk(tree) if isinstance(node, ast.Call) if (name := _dotted(node.func))
        ]
        result = checker.Checker(tree, filename="<candidate>")
        attribute_bases = {
            node.value.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        }
        for message in result.messages:
            kind = type(message).__name__
            if isinstance(message, messages.UndefinedName):
                facts.undefined.append(message.message_args[0])
            elif isinstance(message, messages.UndefinedLocal):
                facts.undefined_locals.append(message.message_args[0])
            if kind not in STYLE_MESSAGES:
                facts.bugs.append(f"line {message.lineno}: {message.message % message.message_args}")
        known_imports = known_imports | attribute_bases
    facts.import_like = sorted(
        {
            n
            for n in facts.undefined
            if n in known_imports or n in COMMON_IMPORTS or (n[:1].isupper() and n[1:2].islower())
        }
    )
    return facts


def callee(api_call: str) -> str | None:
    """`model = torch.hub.load('a', 'b')` -> 'torch.hub.load'; the function an api_call names."""
    text = api_call.strip().split("\n")[0]
    text = re.sub(r"^\s*[\w.,\s]+=\s*(?!=)", "", text)
    m = _CALL.search(text)
    return m.group(1) if m else None


def calls_api(facts: CodeFacts) -> bool:
    """The code calls the function the `api_call` section names (by its last two name parts)."""
    name = callee(facts.sections.get("api_call", ""))
    if not name:
        return False
    tail = ".".join(name.split(".")[-2:])
    last = name.split(".")[-1]
    for call in facts.calls:
        if call.endswith(tail) or (call.split(".")[-1] == last and "." not in name):
            return True
        if call.split(".")[-1] == last and call.split(".")[0] in name.split("."):
            return True
    return False


def known_import_names(entries: Sequence[Any]) -> set[str]:
    """Names the hub's API examples import (`import x as y` -> y; `from m import a, b` -> a, b)."""
    names: set[str] = set()
    pattern = re.compile(r"^\s*(?:from\s+[\w.]+\s+)?import\s+(.+)$", re.M)
    for entry in entries:
        example = entry.example_code
        if isinstance(example, list):
            example = "\n".join(map(str, example))
        if not isinstance(example, str):
            continue
        for m in pattern.finditer(example):
            for part in m.group(1).strip("() ").split(","):
                part = part.strip()
                if part:
                    names.add(part.split(" as ")[-1].strip().split(".")[0])
    return {n for n in names if n.isidentifier()}


def _tokens(text: Any) -> set[str]:
    return {w for w in _WORDS.findall(str(text or "").lower()) if w not in _STOP}


class _HubIndex:
    """One hub's API database, its matcher, its import names and token sets for `api_fits`."""

    def __init__(self, hub: str, data_dir: str | None):
        from gorilla_rlaif.data import load_api_db
        from gorilla_rlaif.metrics import ApiMatcher

        self.db = load_api_db(hub, data_dir=data_dir)
        self.matcher = ApiMatcher.from_db(self.db)
        self.imports = known_import_names(self.db.entries)
        self.entry_tokens = [
            _tokens(f"{e.api_name} {e.functionality} {e.description} {e.domain}") for e in self.db.entries
        ]

    def nearest(self, instruction: str, k: int = 5) -> list[int]:
        words = _tokens(instruction)
        scores = [len(words & t) / (len(words | t) or 1) for t in self.entry_tokens]
        return sorted(range(len(scores)), key=lambda i: -scores[i])[:k]


class RulesJudge(Judge):
    backend = "rules"

    def __init__(self, config: JudgeConfig, rubric: Rubric, **_: Any):
        super().__init__(config, rubric)
        unknown = [q for q in rubric.ids if q not in CHECKS]
        if unknown:
            raise ConfigError(
                f"the rules judge has no check for question(s) {', '.join(unknown)} of rubric {rubric.name}; "
                f"it answers: {', '.join(CHECKS)}"
            )
        self._hubs: dict[str, _HubIndex] = {}

    def settings(self) -> dict[str, Any]:
        from importlib import metadata

        return {
            "backend": "rules",
            "model": None,
            "mode": "deterministic checks (compile, pyflakes, Gorilla AST matcher)",
            "pyflakes": metadata.version("pyflakes"),
            **self.rubric.describe(),
        }

    def index(self, hub: str | None) -> _HubIndex:
        from gorilla_rlaif.data import normalize_hub

        hub = normalize_hub(hub or self.config.rules.hub or "torchhub")
        if hub not in self._hubs:
            self._hubs[hub] = _HubIndex(hub, self.config.rules.data_dir)
        return self._hubs[hub]

    def check(self, item: JudgeItem) -> tuple[dict[str, bool], dict[str, Any]]:
        """The raw truth of every check, and the evidence behind it."""
        index = self.index(item.hub)
        facts = analyze(item.completion, index.imports)
        match = index.matcher.match(item.completion)
        matched = match.entry if match is not None else None
        reference = item.reference or {}
        if reference.get("api_call"):
            fits = matched is not None and matched.domain == reference.get("domain")
            arguments = matched is not None and _same_call(matched.api_call, reference["api_call"])
        else:
            near = index.nearest(item.instruction)
            fits = matched is not None and match.index in near
            arguments = matched is not None
        missing_sections = [s for s in SECTIONS if not facts.sections.get(s, "").strip()]
        truth = {
            "imports": not facts.import_like,
            "syntax": facts.parses,
            "undefined_names": bool(set(facts.undefined) - set(facts.import_like))
            or bool(facts.undefined_locals),
            "bug_free": facts.parses and not facts.bugs,
            "complete": not missing_sections
            and bool(facts.calls)
            and calls_api(facts)
            and not facts.placeholders,
            "api_exists": matched is not None,
            "api_fits": fits,
            "arguments": arguments,
        }
        evidence = {
            "syntax_error": facts.syntax_error,
            "undefined": facts.undefined,
            "import_like": facts.import_like,
            "pyflakes": facts.bugs[:5],
            "missing_sections": missing_sections,
            "placeholders": facts.placeholders[:3],
            "matched_api": matched.api_call if matched is not None else None,
        }
        return truth, evidence

    def judge(self, items: Sequence[JudgeItem], on_result: OnResult | None = None) -> list[Judgment]:
        out = []
        for i, item in enumerate(items):
            truth, evidence = self.check(item)
            answers = {qid: "yes" if truth[qid] else "no" for qid in self.rubric.ids}
            judgment = Judgment(
                answers=answers, p_yes=dict.fromkeys(self.rubric.ids), raw={"evidence": evidence}
            )
            out.append(judgment)
            if on_result is not None:
                on_result(i, judgment)
        return out


def _same_call(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)
