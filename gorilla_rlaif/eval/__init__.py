"""The eval stage: `gorilla-bench eval MODEL_ID` and the library calls behind it.

`run_eval(EvalConfig) -> Path` generates answers to APIBench prompts with a model backend (`hf`,
`openai`, `vllm`), executes their code in the sandbox, scores them (Gorilla AST accuracy and
hallucination, ROUGE-L, CodeBLEU, executability) and writes `OUTPUT/MODEL/RUN/{results.json,
samples.jsonl}`; `rescore(RUN_DIR)` re-scores saved samples; `build_leaderboard(OUTPUT)` compares
runs. Model cards live in `gorilla_rlaif.model_card`.
"""

from gorilla_rlaif.eval.config import EvalConfig, model_slug
from gorilla_rlaif.eval.leaderboard import build_leaderboard
from gorilla_rlaif.eval.report import rescore
from gorilla_rlaif.eval.run import RESULTS_FILE, SAMPLES_FILE, run_eval

__all__ = [
    "RESULTS_FILE",
    "SAMPLES_FILE",
    "EvalConfig",
    "build_leaderboard",
    "model_slug",
    "rescore",
    "run_eval",
]
