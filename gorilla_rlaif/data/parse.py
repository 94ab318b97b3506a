"""Parse APIBench `code` texts into instruction + five sections, for all three formats.

- HuggingFace / TensorFlow Hub: `###Instruction: ...\\n###Output: <<<domain>>>: ... <<<code>>>: ...`
  (HF separates sections with newlines, TF mostly with ", ").
- TorchHub eval: `###Instruction: ...\\n###Output: {'domain': ..., 'code': ...}`.
- TorchHub train: `{'Instruction': ..., 'Output': {'domain': ..., 'code': ...}}`.

The TorchHub strings look like Python literals but are not (unquoted instruction, unescaped quotes
inside values: `ast.literal_eval` fails on 1021 of 1023), so we split on the known key names in
their known order instead. The parser is deliberately small and total: it never raises on a text,
it returns what it found and, if something is missing, a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gorilla_rlaif.data.schema import SECTIONS, ParsedOutput

_INSTRUCTION = re.compile(r"###\s*Instruction:\s*", re.I)
_INPUT = re.compile(r"\n\s*###\s*Input:\s*", re.I)
_OUTPUT = re.compile(r"(?:^|\n)\s*###\s*Output:", re.I)
_SECTION = re.compile(r"<<<\s*([A-Za-z_]+)\s*>>>\s*:?")
_TORCH_TRAIN = re.compile(r"^\s*\{\s*'Instruction'\s*:", re.S)


@dataclass
class ParsedText:
    instruction: str | None = None
    input: str | None = None
    output: ParsedOutput | None = None
    extra_sections: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def split_sections(text: str) -> dict[str, str]:
    """`<<<name>>>: value` pairs of a Gorilla-style answer, in the order found (first one wins).

    Tolerates the separators real answers use (newline, ", ", nothing) and a missing colon.
    Text before the first marker is ignored.
    """
    found: dict[str, str] = {}
    marks = list(_SECTION.finditer(text))
    for i, mark in enumerate(marks):
        name = mark.group(1).lower()
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        value = text[mark.end() : end].strip()
        if name != "code":
            value = value.rstrip(",").rstrip()
        found.setdefault(name, value)
    return found


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _split_dictlike(body: str, closing_braces: int) -> tuple[dict[str, str], list[str]]:
    """Values of `'domain': ..., 'api_call': ..., ...` in a dict-like string, by key position."""
    positions: list[tuple[str, int, int]] = []
    cursor = 0
    missing: list[str] = []
    for key in SECTIONS:
        m = re.compile(rf"['\"]{key}['\"]\s*:\s*").search(body, cursor)
        if m is None:
            missing.append(key)
            continue
        positions.append((key, m.start(), m.end()))
        cursor = m.end()
    values: dict[str, str] = {}
    for i, (key, _start, value_start) in enumerate(positions):
        end = positions[i + 1][1] if i + 1 < len(positions) else len(body)
        value = body[value_start:end].rstrip()
        if i + 1 < len(positions):
            value = value.rstrip(",").rstrip()
        else:
            for _ in range(closing_braces):
                value = value.rstrip()
                if value.endswith("}"):
                    value = value[:-1]
        values[key] = _unquote(value)
    return values, missing


def _finish(parsed: ParsedText, sections: dict[str, str], missing: list[str]) -> ParsedText:
    parsed.extra_sections = {k: v for k, v in sections.items() if k not in SECTIONS}
    if missing:
        found = ", ".join(sections) or "none"
        parsed.error = f"missing output section(s): {', '.join(missing)} (found: {found})"
    else:
        parsed.output = ParsedOutput(**{k: sections[k] for k in SECTIONS})
    return parsed


def parse_code_text(text: str) -> ParsedText:
    """Parse one record's `code` field. Never raises; `error` says what is missing."""
    parsed = ParsedText()
    if _TORCH_TRAIN.match(text):
        return _parse_torchhub_train(text, parsed)

    ins = _INSTRUCTION.search(text)
    out = _OUTPUT.search(text)
    if ins is None:
        parsed.error = "no '###Instruction:' marker"
        return parsed
    head_end = out.start() if out else len(text)
    head = text[ins.end() : head_end]
    inp = _INPUT.search(head)
    if inp:
        parsed.instruction = head[: inp.start()].strip()
        parsed.input = head[inp.end() :].strip() or None
    else:
        parsed.instruction = head.strip()
    if not parsed.instruction:
        parsed.instruction = None
        parsed.error = "empty instruction"
        return parsed
    if out is None:
        parsed.error = "no '###Output:' marker (instruction only)"
        return parsed
    body = text[out.end() :]
    if _SECTION.search(body):
        sections = split_sections(body)
        return _finish(parsed, sections, [k for k in SECTIONS if k not in sections])
    if body.lstrip().startswith("{") and re.search(r"['\"](domain|api_call)['\"]\s*:", body):
        values, missing = _split_dictlike(body.strip(), closing_braces=1)
        return _finish(parsed, values, missing)
    parsed.error = "output is free text without <<<section>>> markers or a section dict"
    return parsed


def _parse_torchhub_train(text: str, parsed: ParsedText) -> ParsedText:
    m_out = re.search(r",\s*'Output'\s*:\s*", text)
    start = _TORCH_TRAIN.match(text).end()  # type: ignore[union-attr]
    if m_out is None:
        parsed.instruction = text[start:].strip().rstrip("}").strip() or None
        parsed.error = "no 'Output' key"
        return parsed
    head = text[start : m_out.start()]
    m_in = re.search(r",\s*'Input'\s*:\s*", head)
    if m_in:
        parsed.instruction = head[: m_in.start()].strip()
        parsed.input = _unquote(head[m_in.end() :]) or None
    else:
        parsed.instruction = head.strip()
    body = text[m_out.end() :].strip()
    if not body.startswith("{"):
        parsed.error = "'Output' is free text, not a section dict"
        return parsed
    values, missing = _split_dictlike(body, closing_braces=2)
    return _finish(parsed, values, missing)
