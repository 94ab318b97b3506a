"""Servers the eval tests talk to over real HTTP on 127.0.0.1.

- `AnsweringOpenAIServer`: the project's loopback OpenAI-compatible server
  (`gorilla_rlaif.testing.openai_server`, real HTTP, the real `openai` SDK on the client side),
  answering chat requests with a text chosen per question instead of the judge's yes/no.
- `ModelHubStandIn`: the dataset Hub stand-in of tests/helpers/hub_server.py, which is a MOCK of
  the Hugging Face Hub's HTTP API (the real Hub is unreachable from here), extended to the model
  repository routes that `ModelCard.push_to_hub` and `hf_hub_download` use. Model and dataset
  repositories have the same commit / resolve semantics on the Hub, so the routes are mapped onto
  the stand-in's dataset handlers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from gorilla_rlaif.testing.openai_server import OpenAITestServer
from tests.helpers.hub_server import HubStandIn, _Handler


class AnsweringOpenAIServer(OpenAITestServer):
    """`answer(question)` decides the content; `question` is the first user message."""

    def __init__(self, answer: Callable[[str], str], **kwargs: Any):
        super().__init__(**kwargs)
        self.answer = answer

    def _answer(self, body: dict[str, Any], text: str) -> tuple[str, list[dict[str, Any]] | None]:
        return self.answer(text), None


class _ModelRouteHandler(_Handler):
    def _map(self) -> None:
        path = self.path
        path = re.sub(r"^/api/models/", "/api/datasets/", path)
        if re.match(r"^/[^/]+/[^/]+/resolve/", path) and not path.startswith("/datasets/"):
            path = "/datasets" + path
        self.path = path

    def _authorized(self) -> bool:
        # `RepoCard.validate` posts the card's YAML without a token, which the real Hub accepts
        # (the validation endpoint is public); the dataset stand-in wants a token on every call.
        if self.path.startswith("/api/validate-yaml"):
            return True
        return super()._authorized()

    def do_GET(self, head: bool = False) -> None:
        self._map()
        super().do_GET(head)

    def do_POST(self) -> None:
        self._map()
        super().do_POST()


class ModelHubStandIn(HubStandIn):
    def __enter__(self) -> ModelHubStandIn:
        owner = self

        class Handler(_ModelRouteHandler):
            hub = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self
