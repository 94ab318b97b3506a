"""The stand-in world, inside the sandbox: sample inputs and the offline web.

This file runs in the sandbox, under the execution environment's libraries (it is mounted, not
imported from the package, like the sandbox's runner), so it uses the standard library only and
touches `requests` only if the environment has it.

- `materialize_inputs(code, workdir)`: APIBench answers read files the user is expected to supply
  (`Image.open('path/to/image.jpg')`, `pd.read_csv('data.csv')`, `joblib.load('model.joblib')`,
  `sf.read('audio.wav')`). Before a snippet runs, every path-like string literal of its code whose
  extension names a data type, and which does not exist, is created from the sample file of that
  type (`inputs/sample.<ext>`), relative to the snippet's scratch directory, or under `/path/...`
  (a scratch directory too). Pre-creating a file the code means to write is harmless: it is
  overwritten. The snippet's writes die with its scratch directory.
- `install_offline_web(...)`: answers (requests and urllib) GETs of media URLs with the sample file
  of that type, and the GitHub requests torch.hub makes for a repository that is in the stand-in
  world (branch probe, branch/tag API, archive download of the stand-in repo, zipped on the fly).
  Every other request goes to the real network stack, which in an offline sandbox fails as it would
  for a user without network (a `hub_error` when it came from a hub). Not installed with --network.
- `link_pyannote_cache(...)`: pyannote.audio reads the Hub through a cache directory of its own,
  which must be writable: the snippet gets one of links to the world's repositories.
- `install_offline_hub_listing()`: the Hub's file listing (`list_repo_files`, which ultralyticsplus
  calls before downloading `best.pt`) answered from the offline cache: the files of a repository in
  the stand-in world, `RepositoryNotFoundError` for one that is not (huggingface_hub's offline mode
  would refuse every listing, which no user with network sees).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shutil
import sys
import zipfile

# extension -> sample file (the file's own extension when there is a sample of it, else the kind's)
SAMPLE_FOR = {
    **{ext: f"sample.{ext}" for ext in ("jpg", "png", "gif", "bmp", "tiff", "webp")},
    "jpeg": "sample.jpg",
    "tif": "sample.tiff",
    **{ext: f"sample.{ext}" for ext in ("wav", "flac", "mp3", "ogg")},
    **{ext: f"sample.{ext}" for ext in ("mp4", "avi")},
    "mov": "sample.mp4",
    "mkv": "sample.mp4",
    "webm": "sample.mp4",
    "csv": "sample.csv",
    "tsv": "sample.tsv",
    "txt": "sample.txt",
    "json": "sample.json",
    "joblib": "sample.joblib",
    "pkl": "sample.joblib",
    "pickle": "sample.joblib",
    "npy": "sample.npy",
    "yaml": "sample.yaml",
    "yml": "sample.yaml",
}
PATH_LITERAL = re.compile(r"^[\w./~+-]+\.([A-Za-z0-9]{2,6})$")
# Absolute placeholders answers use ('/path/to/audio.wav'): a scratch directory in every sandbox.
SCRATCH_ROOTS = ("/path/",)
MEDIA_EXTENSIONS = {
    "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "wav", "flac", "mp3", "ogg", "mp4", "avi",
}  # fmt: skip
# Hosts whose files are models (hub_error when missing), never answered from the samples.
HUB_HOSTS = (
    "huggingface.co",
    "hf.co",
    "tfhub.dev",
    "kaggle.com",
    "storage.googleapis.com",
    "download.pytorch.org",
)
_WEB: dict = {}


def path_literals(code: str) -> list[str]:
    """String constants of `code` that look like data file paths (not URLs)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
            value = node.value.strip()
            match = PATH_LITERAL.match(value)
            if match and "://" not in value and ".." not in value.split("/"):
                found.append(value)
    return list(dict.fromkeys(found))


def materialize_inputs(code: str, workdir: str, inputs_dir: str, scratch_roots=SCRATCH_ROOTS) -> list[str]:
    """Create the sample files `code` names; return the paths created. Absolute paths only under
    `scratch_roots` (sandboxes with a root of their own get a scratch `/path`)."""
    created = []
    for literal in path_literals(code):
        ext = literal.rsplit(".", 1)[1].lower()
        sample = SAMPLE_FOR.get(ext)
        if sample is None:
            continue
        if literal.startswith("/"):
            if not literal.startswith(tuple(scratch_roots)):
                continue
            target = literal
        else:
            target = os.path.join(workdir, literal.removeprefix("./"))
        if os.path.lexists(target):
            continue
        try:
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            shutil.copyfile(os.path.join(inputs_dir, sample), target)
            created.append(target)
        except OSError:
            continue  # e.g. a name that is also a directory: the snippet meets what it would have met
    return created


# ------------------------------------------------------------------------------------ offline web


def _split(url: str) -> tuple[str, str, str]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.path


def _hub_repo_dir(owner: str, repo: str, ref: str | None) -> str | None:
    hub = _WEB.get("torch_hub")
    if not hub:
        return None
    refs = [ref] if ref else ["main", "master"]
    for candidate in refs:
        path = os.path.join(hub, f"{owner}_{repo}_{candidate.replace('/', '_')}")
        if os.path.isfile(os.path.join(path, "hubconf.py")):
            return path
    return None


def _zip_repo(directory: str, top: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # The top directory's own entry first, as GitHub's archives have it: torch.hub takes the
        # first entry's name as the unpacked repository.
        archive.writestr(top + "/", b"")
        for root, _, files in os.walk(directory):
            for name in files:
                full = os.path.join(root, name)
                archive.write(full, os.path.join(top, os.path.relpath(full, directory)))
    return buffer.getvalue()


GITHUB_ARCHIVE = re.compile(r"^/([\w.-]+)/([\w.-]+)/(?:zipball|archive)/(.+?)(?:\.zip)?$")
GITHUB_TREE = re.compile(r"^/([\w.-]+)/([\w.-]+)/tree/([^/]+)/?$")
GITHUB_API = re.compile(r"^/repos/([\w.-]+)/([\w.-]+)/(branches|tags)$")


def answer(url: str) -> tuple[int, str, bytes] | None:
    """(status, content type, body) for a URL the offline world serves, else None."""
    scheme, host, path = _split(url)
    if scheme not in ("http", "https"):
        return None
    if host == "github.com":
        if m := GITHUB_ARCHIVE.match(path):
            owner, repo, ref = m.groups()
            directory = _hub_repo_dir(owner, repo, ref)
            if directory:
                return 200, "application/zip", _zip_repo(directory, f"{repo}-{ref.replace('/', '-')}")
        if m := GITHUB_TREE.match(path):
            owner, repo, ref = m.groups()
            if _hub_repo_dir(owner, repo, None):
                return (200 if _hub_repo_dir(owner, repo, ref) else 404), "text/html", b""
        # other GitHub URLs: only media files (a library's demo images, e.g. ultralytics')
    elif host == "api.github.com":
        if m := GITHUB_API.match(path):
            owner, repo, kind = m.groups()
            if _hub_repo_dir(owner, repo, None):
                names = []
                if kind == "branches":
                    names = [r for r in ("main", "master") if _hub_repo_dir(owner, repo, r)]
                return 200, "application/json", json.dumps([{"name": n} for n in names]).encode()
        return None
    elif host.endswith(HUB_HOSTS):
        return None
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if ext in MEDIA_EXTENSIONS:
        sample = os.path.join(_WEB["inputs"], SAMPLE_FOR[ext])
        with open(sample, "rb") as f:
            return 200, "application/octet-stream", f.read()
    return None


def _patch_urllib() -> None:
    import urllib.request
    from email.message import Message

    class OfflineWebHandler(urllib.request.BaseHandler):
        handler_order = 100  # before the real HTTP(S) handlers

        def _open(self, req):
            served = answer(req.full_url)
            if served is None:
                return None  # fall through to the real handler
            status, ctype, body = served
            headers = Message()
            headers["Content-Type"] = ctype
            headers["Content-Length"] = str(len(body))
            response = urllib.response.addinfourl(io.BytesIO(body), headers, req.full_url, status)
            response.msg = "OK"  # what urllib's HTTPErrorProcessor reads of an http.client response
            if status >= 400:
                raise urllib.error.HTTPError(req.full_url, status, "Not Found", headers, io.BytesIO(body))
            return response

        http_open = https_open = _open

    import urllib.error
    import urllib.response

    urllib.request.install_opener(urllib.request.build_opener(OfflineWebHandler))


def _patch_requests() -> None:
    try:
        import requests
        from requests.adapters import HTTPAdapter
        from requests.structures import CaseInsensitiveDict
    except ImportError:
        return
    original = HTTPAdapter.send
    if getattr(original, "_gorilla_offline_web", False):
        return

    def send(self, request, *args, **kwargs):
        served = answer(request.url) if request.method in ("GET", "HEAD") else None
        if served is None:
            return original(self, request, *args, **kwargs)
        status, ctype, body = served
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict({"Content-Type": ctype, "Content-Length": str(len(body))})
        response.raw = io.BytesIO(body)
        response.url = request.url
        response.request = request
        response.reason = "OK" if status < 400 else "Not Found"
        response.connection = self
        return response

    send._gorilla_offline_web = True
    HTTPAdapter.send = send


def install_offline_web(inputs_dir: str, torch_hub: str | None) -> None:
    """Answer what the offline world knows (see the module docstring); idempotent."""
    first = not _WEB
    _WEB.update(inputs=inputs_dir, torch_hub=torch_hub)
    if first:
        _patch_urllib()
    _patch_requests()


def _cached_repo_files(repo_id: str, revision: str | None = None, repo_type: str | None = None) -> list[str]:
    from huggingface_hub import constants
    from huggingface_hub.utils import RepositoryNotFoundError

    folder = os.path.join(constants.HF_HUB_CACHE, f"{repo_type or 'model'}s--{repo_id.replace('/', '--')}")
    commit = revision or "main"
    with contextlib.suppress(OSError), open(os.path.join(folder, "refs", commit)) as f:
        commit = f.read().strip()
    snapshot = os.path.join(folder, "snapshots", commit)
    if not os.path.isdir(snapshot):
        raise RepositoryNotFoundError(
            f"{repo_id} (revision {revision or 'main'}) is not in the offline world: the Hub is not reachable"
        )
    return sorted(
        os.path.relpath(os.path.join(base, name), snapshot)
        for base, _, files in os.walk(snapshot)
        for name in files
    )


def install_offline_hub_listing() -> None:
    """`HfApi.list_repo_files` (and the module-level alias) from the cache; idempotent."""
    try:
        from huggingface_hub import hf_api
    except ImportError:
        return
    if getattr(hf_api.HfApi.list_repo_files, "_gorilla_offline", False):
        return

    def list_repo_files(self, repo_id, *, revision=None, repo_type=None, token=None):
        return _cached_repo_files(repo_id, revision, repo_type)

    list_repo_files._gorilla_offline = True
    hf_api.HfApi.list_repo_files = list_repo_files
    hf_api.list_repo_files = hf_api.api.list_repo_files
    huggingface_hub = sys.modules.get("huggingface_hub")
    if huggingface_hub is not None and "list_repo_files" in vars(huggingface_hub):
        huggingface_hub.list_repo_files = hf_api.api.list_repo_files


# `pipeline(model="org/name")` with no task: transformers asks the Hub for the id's pipeline_tag
PIPELINE_WITHOUT_TASK = re.compile(r"\bpipeline\(\s*model\s*=")
PIPELINE_TAGS = "pipeline_tags.json"  # in HF_HOME, written by standins_hf.py (which imports this name)


def install_offline_pipeline_tags(path: str) -> None:
    """`transformers.pipelines.get_task` answered from the world's pipeline tags (the Hub's
    `pipeline_tag` of each stand-in, from its API-database task). transformers refuses outright in
    offline mode; an id outside the world fails as the online lookup of a missing repository does
    (a RuntimeError whose context is `RepositoryNotFoundError`). Idempotent."""
    from transformers import pipelines

    if getattr(pipelines.get_task, "_gorilla_offline", False):
        return
    tags: dict = {}
    with contextlib.suppress(OSError, ValueError), open(path) as f:
        tags = json.load(f)

    def get_task(model, token=None, **kwargs):
        if model in tags:
            return tags[model]
        from huggingface_hub.utils import RepositoryNotFoundError

        try:
            raise RepositoryNotFoundError(
                f"{model} is not in the offline world: the Hub is not reachable", response=None
            )
        except RepositoryNotFoundError as exc:
            raise RuntimeError(f"Instantiating a pipeline without a task set raised an error: {exc}") from exc

    get_task._gorilla_offline = True
    pipelines.get_task = get_task


def link_pyannote_cache(hub_cache: str) -> None:
    """pyannote.audio 3 downloads into a cache of its own (`$PYANNOTE_CACHE`, else
    ~/.cache/torch/pyannote) that must be writable (SpeechBrain links an embedding's files into it):
    a directory in the snippet's HOME with a link to each repository of the read-only Hub cache."""
    target = os.environ.get("PYANNOTE_CACHE") or os.path.expanduser("~/.cache/torch/pyannote")
    os.makedirs(target, exist_ok=True)
    with contextlib.suppress(OSError):
        for name in os.listdir(hub_cache):
            link = os.path.join(target, name)
            if name.startswith("models--") and not os.path.lexists(link):
                os.symlink(os.path.join(hub_cache, name), link)


def link_datasets_cache(world_datasets: str, target: str) -> None:
    """The world's prepared datasets (`standins_datasets.py`) seen from the writable
    `HF_DATASETS_CACHE`: real directories holding links to the read-only files, so `datasets`
    can take its locks and write `map` caches beside them."""
    if not os.path.isdir(world_datasets):
        return
    for base, dirs, files in os.walk(world_datasets):
        if base == world_datasets and "downloads" in dirs:  # clips the datasets name by absolute path
            dirs.remove("downloads")
        directory = os.path.join(target, os.path.relpath(base, world_datasets))
        os.makedirs(directory, exist_ok=True)
        for name in files:
            link = os.path.join(directory, name)
            if not os.path.lexists(link):
                os.symlink(os.path.join(base, name), link)


def link_torch_home(torch_home: str, standins: str, reloadable: bool = False) -> None:
    """A writable TORCH_HOME whose hub/ holds links to the stand-in repositories: torch.hub finds
    them as downloaded, and may still replace one (force_reload unpacks a fresh copy served by the
    offline web) without touching the read-only world."""
    hub = os.path.join(torch_home, "hub")
    os.makedirs(hub, exist_ok=True)
    if not os.path.isdir(standins):
        return
    for name in os.listdir(standins):
        source, target = os.path.join(standins, name), os.path.join(hub, name)
        if os.path.lexists(target):
            continue
        if not os.path.isdir(source):  # trusted_list: torch.hub appends to it, so a copy
            shutil.copyfile(source, target)
            continue
        if not reloadable:
            os.symlink(source, target)
            continue
        # A real directory of links, not a link: force_reload `rmtree`s the repository (which
        # refuses a symlink) and unpacks the copy the offline web serves in its place. Only for
        # code that asks for it: on a disk-backed scratch dir (the local backend) the extra
        # directories cost ~0.25 s to wipe after every snippet.
        os.mkdir(target)
        for entry in os.listdir(source):
            os.symlink(os.path.join(source, entry), os.path.join(target, entry))


def prepare(request: dict) -> None:
    """Called by the sandbox runner in the snippet's process before its code runs."""
    world = request.get("world") or {}
    if not world:
        return
    code = request["code"]
    if world.get("web"):
        install_offline_web(world["inputs"], world.get("torch_hub"))
        # only where the Hub client is loaded already (torch workers preload it) or the code
        # names it: importing it for every TensorFlow snippet would cost ~0.1 s each
        if "huggingface_hub" in sys.modules or "ultralyticsplus" in code or "list_repo_files" in code:
            install_offline_hub_listing()
        if PIPELINE_WITHOUT_TASK.search(code) and os.environ.get("HF_HOME"):
            install_offline_pipeline_tags(os.path.join(os.environ["HF_HOME"], PIPELINE_TAGS))
    if world.get("torch_home") and "torch" in code:  # only torch code reaches torch.hub
        link_torch_home(world["torch_home"], world["torch_hub"], reloadable="force_reload" in code)
    if "load_dataset" in code and os.environ.get("HF_HOME") and os.environ.get("HF_DATASETS_CACHE"):
        link_datasets_cache(os.path.join(os.environ["HF_HOME"], "datasets"), os.environ["HF_DATASETS_CACHE"])
    if "pyannote" in code and os.environ.get("HF_HOME"):
        link_pyannote_cache(os.path.join(os.environ["HF_HOME"], "hub"))
    materialize_inputs(request["code"], request["workdir"], world["inputs"], world.get("scratch_roots", ()))
