"""The executability harness: run untrusted generated code in a sandbox and classify the outcome.

One public call, `run_snippets(snippets, SandboxConfig(...), output=...)`, returns one
`ExecResult` per snippet with a `Status` from a closed set; `summarize` turns results into the
executability rate. Backends: "docker" (containers) and "local" (bubblewrap, else a bare process)
on this machine; "remote" (a `gorilla-bench serve` elsewhere: `server.py`) and "ray" (a sandbox
pool on every node of a Ray cluster).
"""

from gorilla_rlaif.harness.config import SandboxConfig
from gorilla_rlaif.harness.run import run_snippets
from gorilla_rlaif.harness.schema import ExecResult, Snippet, Status, summarize

__all__ = ["ExecResult", "SandboxConfig", "Snippet", "Status", "run_snippets", "summarize"]
