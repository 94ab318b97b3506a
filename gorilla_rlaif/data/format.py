"""The text a model sees and the text it must produce: defined once, used everywhere.

Training (SFT targets), generation (prompts), the judge (what a candidate answers) and eval
(prompts and parsing of responses) all go through these functions, so a change of format cannot
make one stage disagree with another.

Prompt:  `###Instruction: <instruction>\\n[###Input: <input>\\n]###Output:`  (Gorilla's own)
Target:  ` <<<domain>>>: ...\\n<<<api_call>>>: ...\\n<<<api_provider>>>: ...\\n<<<explanation>>>: ...\\n<<<code>>>: ...`

The target uses the HuggingFace-style `<<<section>>>` layout for every hub (TorchHub's own files
use a dict-like string). One layout means one parser, and Gorilla's AST evaluator, which looks for
the `api_call` ... `api_provider` span, reads it on all three hubs.
"""

from __future__ import annotations

from gorilla_rlaif.data.schema import SECTIONS, ApiBenchRecord, ParsedOutput

PROMPT_TEMPLATE = "###Instruction: {instruction}\n"
INPUT_TEMPLATE = "###Input: {input}\n"
OUTPUT_MARKER = "###Output:"


def build_prompt(instruction: str, input: str | None = None) -> str:
    """The prompt for one instruction, ending with `###Output:` (the model continues from there)."""
    text = PROMPT_TEMPLATE.format(instruction=instruction.strip())
    if input:
        text += INPUT_TEMPLATE.format(input=input.strip())
    return text + OUTPUT_MARKER


def format_target(output: ParsedOutput) -> str:
    """The completion a model should produce after the prompt (starts with a space)."""
    parts = [f"<<<{name}>>>: {getattr(output, name).strip()}" for name in SECTIONS]
    return " " + "\n".join(parts)


def parse_completion(text: str) -> dict[str, str]:
    """Sections of a model's completion, by name (missing sections are absent from the dict).

    Accepts a bare completion or prompt+completion (anything before `###Output:` is ignored).
    """
    from gorilla_rlaif.data.parse import split_sections

    if OUTPUT_MARKER in text:
        text = text.split(OUTPUT_MARKER, 1)[1]
    return split_sections(text)


def sft_example(record: ApiBenchRecord) -> dict[str, str]:
    """A TRL prompt-completion row (`id`, `prompt`, `completion`) for one parsed record."""
    if record.output is None or record.instruction is None:
        raise ValueError(f"record {record.id} has no parsed output: {record.parse_error}")
    return {
        "id": record.id,
        "prompt": build_prompt(record.instruction, record.input),
        "completion": format_target(record.output),
    }
