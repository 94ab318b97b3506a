"""A local stand-in for the Hugging Face Hub's HTTP API — a MOCK, because the Hub is unreachable here.

It implements only the endpoints `huggingface_hub.HfApi` calls to publish a dataset:
`POST /api/repos/create`, `POST /api/validate-yaml` (the card's metadata), `GET
/api/datasets/{repo}/refs`, `POST .../preupload/{rev}`, `GET .../tree/{rev}[/{path}]`,
`POST .../commit/{rev}` (NDJSON) and `POST .../tag/{rev}`; and the ones `datasets.load_dataset(REPO,
CONFIG, revision=TAG)` reads with: `GET .../revision/{rev}` and `HEAD/GET
/datasets/{repo}/resolve/{rev}/{path}`. It answers `preupload` with upload mode "regular" for every file, so the
client sends file contents inline in the commit; the real Hub routes parquet through Xet/LFS
storage, which this stand-in does not reproduce. Everything else (auth header, commit payload,
tag semantics: 409 on an existing tag) follows the real API closely enough to test our push code
path end to end over real HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HubStandIn:
    def __init__(self, token: str | None = None, echo_auth_on_error: bool = False):
        self.token = token
        self.echo_auth_on_error = echo_auth_on_error
        self.repos: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.auth_headers: list[str] = []
        self.validated_yaml: list[str] = []
        self.auth_by_request: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle
    def __enter__(self) -> HubStandIn:
        owner = self

        class Handler(_Handler):
            hub = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---- repository state
    def files_at(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        oid = repo["tags"].get(revision) or repo["branches"].get(revision) or revision
        return dict(repo["commits"][oid]["files"])

    def commit_of(self, repo_id: str, revision: str) -> str:
        repo = self.repos[repo_id]
        return repo["tags"].get(revision) or repo["branches"][revision]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: HubStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        if self.hub.echo_auth_on_error:
            message += f" (request credentials: {self.headers.get('Authorization', '')})"
        self._json(status, {"error": message})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        self.hub.auth_headers.append(auth)
        self.hub.auth_by_request.append((self.command, self.path, bool(auth)))
        if self.hub.token is not None and auth != f"Bearer {self.hub.token}":
            self._error(401, "Invalid credentials in Authorization header")
            return False
        return True

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        self.hub.requests.append(("HEAD" if head else "GET", self.path))
        if not self._authorized():
            return
        if self._resolve(head) or self._revision_info():
            return
        m = re.match(r"^/api/datasets/(.+?/.+?)/(refs|tree/([^/?]+)(/[^?]*)?)(\\?.*)?$", self.path)
        if not m or m.group(1) not in self.hub.repos:
            self._error(404, f"Repository not found: {self.path}")
            return
        repo = self.hub.repos[m.group(1)]
        if m.group(2) == "refs":
            self._json(
                200,
                {
                    "branches": [
                        {"name": b, "ref": f"refs/heads/{b}", "targetCommit": o}
                        for b, o in repo["branches"].items()
                    ],
                    "tags": [
                        {"name": t, "ref": f"refs/tags/{t}", "targetCommit": o}
                        for t, o in repo["tags"].items()
                    ],
                    "converts": [],
                },
            )
            return
        oid = self._oid(repo, m.group(3))
        files = repo["commits"][oid]["files"] if oid else {}
        prefix = (m.group(4) or "").strip("/")
        recursive = "recursive=true" in (m.group(5) or "")
        entries: dict[str, dict[str, Any]] = {}
        for path, data in sorted(files.items()):
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1 :] if prefix else path
            if recursive or "/" not in rest:
                entries[path] = {
                    "type": "file",
                    "path": path,
                    "size": len(data),
                    "oid": hashlib.sha1(data).hexdigest(),
                }
            else:
                directory = (f"{prefix}/" if prefix else "") + rest.split("/")[0]
                entries[directory] = {"type": "directory", "path": directory, "oid": "0" * 40}
        self._json(200, list(entries.values()))

    # ---- reading (what `datasets.load_dataset(REPO, revision=...)` calls)
    def _oid(self, repo: dict[str, Any], revision: str) -> str | None:
        revision = revision.replace("%2F", "/")
        oid = repo["branches"].get(revision) or repo["tags"].get(revision)
        return oid or (revision if revision in repo["commits"] else None)

    def _resolve(self, head: bool) -> bool:
        m = re.match(r"^/datasets/(.+?/.+?)/resolve/([^/]+)/([^?]+)", self.path)
        if not m:
            return False
        repo = self.hub.repos.get(m.group(1))
        oid = self._oid(repo, m.group(2)) if repo else None
        data = repo["commits"][oid]["files"].get(m.group(3)) if oid else None
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", oid)
        self.end_headers()
        if not head:
            self.wfile.write(data)
        return True

    def _revision_info(self) -> bool:
        m = re.match(r"^/api/datasets/(.+?/.+?)/revision/([^/?]+)", self.path)
        if not m:
            return False
        repo = self.hub.repos.get(m.group(1))
        oid = self._oid(repo, m.group(2)) if repo else None
        if oid is None:
            self._error(404, "Revision not found")
            return True
        files = repo["commits"][oid]["files"]
        self._json(
            200,
            {
                "id": m.group(1),
                "sha": oid,
                "private": repo["private"],
                "siblings": [{"rfilename": p, "size": len(b)} for p, b in sorted(files.items())],
                "tags": [],
            },
        )
        return True

    def _validate_yaml(self, content: str) -> None:
        """Like the Hub: the README's front matter must be YAML whose `configs` name data files."""
        import yaml

        m = re.match(r"^---\n(.*?)\n---\n", content, re.S)
        errors = []
        if not m:
            errors.append("README.md has no YAML front matter")
        else:
            meta = yaml.safe_load(m.group(1))
            for config in meta.get("configs", []):
                if not config.get("config_name") or not config.get("data_files"):
                    errors.append(f"config {config} needs config_name and data_files")
        if errors:
            self._json(400, {"errors": [{"message": e} for e in errors]})
        else:
            self.hub.validated_yaml.append(content)
            self._json(200, {"warnings": []})

    def do_POST(self) -> None:
        self.hub.requests.append(("POST", self.path))
        body = self._body()
        if not self._authorized():
            return
        hub = self.hub
        if self.path.startswith("/api/validate-yaml"):
            self._validate_yaml(json.loads(body)["content"])
            return
        if self.path.startswith("/api/repos/create"):
            payload = json.loads(body)
            repo_id = (
                f"{payload['organization']}/{payload['name']}"
                if payload.get("organization")
                else payload["name"]
            )
            with hub._lock:
                if repo_id in hub.repos:
                    self._json(
                        409,
                        {
                            "error": "You already created this dataset repo",
                            "url": f"{hub.endpoint}/datasets/{repo_id}",
                        },
                    )
                    return
                root = hashlib.sha1(repo_id.encode()).hexdigest()
                hub.repos[repo_id] = {
                    "private": payload.get("visibility") == "private" or bool(payload.get("private")),
                    "commits": {
                        root: {"files": {".gitattributes": b"*.parquet filter=lfs\n"}, "message": "initial"}
                    },
                    "branches": {"main": root},
                    "tags": {},
                }
            self._json(200, {"url": f"{hub.endpoint}/datasets/{repo_id}", "name": repo_id})
            return
        m = re.match(r"^/api/datasets/(.+?/.+?)/(preupload|commit|tag)/([^?]+)", self.path)
        if not m or m.group(1) not in hub.repos:
            self._error(404, f"Repository not found: {self.path}")
            return
        repo_id, action, revision = m.group(1), m.group(2), m.group(3)
        repo = hub.repos[repo_id]
        if action == "preupload":
            files = json.loads(body)["files"]
            self._json(
                200,
                {
                    "files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
                    ]
                },
            )
        elif action == "commit":
            with hub._lock:
                parent = repo["branches"][revision]
                files = dict(repo["commits"][parent]["files"])
                message = ""
                for line in body.splitlines():
                    item = json.loads(line)
                    if item["key"] == "header":
                        message = item["value"].get("summary", "")
                    elif item["key"] == "file":
                        files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    elif item["key"] in ("deletedFile", "deletedFolder"):
                        path = item["value"]["path"]
                        files = {
                            p: b
                            for p, b in files.items()
                            if p != path and not p.startswith(path.rstrip("/") + "/")
                        }
                    else:
                        self._error(400, f"stand-in does not support {item['key']} operations")
                        return
                oid = hashlib.sha1(
                    json.dumps([parent, sorted(files), message]).encode() + b"".join(files.values())
                ).hexdigest()
                repo["commits"][oid] = {"files": files, "message": message}
                repo["branches"][revision] = oid
            self._json(
                200,
                {
                    "commitUrl": f"{hub.endpoint}/datasets/{repo_id}/commit/{oid}",
                    "commitOid": oid,
                    "success": True,
                },
            )
        else:  # tag
            payload = json.loads(body)
            with hub._lock:
                if payload["tag"] in repo["tags"]:
                    self._error(409, f"Tag {payload['tag']} already exists")
                    return
                repo["tags"][payload["tag"]] = repo["branches"].get(revision, revision)
            self._json(200, {})
