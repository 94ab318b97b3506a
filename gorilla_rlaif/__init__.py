"""gorilla-rlaif: RLAIF for API-usage code generation in lightweight LLMs.

Data flows one way, one module per stage:
data -> generate -> judge -> publish -> train -> eval (metrics + harness) -> cards.
Nothing heavy (torch, transformers) is imported at package import time.
"""

__version__ = "0.1.0"
