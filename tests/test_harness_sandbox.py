"""The harness on real sandboxes: bubblewrap (local) and Docker (CI starts dockerd; these tests
FAIL, never skip, when the engine is unreachable). Snippets run in batches, as users run them,
so each backend pays its start-up once; every test then checks its own rows."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from gorilla_rlaif.harness import SandboxConfig, Status, run_snippets, summarize

BACKENDS = ["local", "docker"]
SECRET = "sk-gorilla-test-secret-4242"
DAEMON_SLEEP = "4242.5"  # a sleep duration no other process on the machine uses

# One snippet per status a snippet can earn (sandbox_error is the harness's, tested separately).
STATUS_SNIPPETS = {
    "ok": ("print('hello from the sandbox')", Status.ok),
    "syntax": ("def broken(:\n    pass", Status.syntax_error),
    "import": ("import definitely_not_a_module_xyz", Status.import_error),
    "attribute": ("import math\nmath.no_such_function()", Status.attribute_error),
    "name": ("print(undefined_variable)", Status.name_error),
    "type": ("len(5)", Status.type_error),
    "timeout": ("while True:\n    pass", Status.timeout),
    "oom": ("blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))", Status.oom),
    "runtime": ("raise ValueError('bad value')", Status.runtime_error),
}

MODEL_SNIPPETS = {
    "hf_pipeline": (
        "from transformers import pipeline\n"
        "unmasker = pipeline('fill-mask', model='bert-base-uncased')\n"
        "print(len(unmasker('Paris is the [MASK] of France.')))",
        Status.ok,
    ),
    "hf_auto": (
        "from transformers import AutoTokenizer, AutoModelForCausalLM\n"
        "tok = AutoTokenizer.from_pretrained('gpt2')\n"
        "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
        "out = model.generate(**tok('def f():', return_tensors='pt'), max_new_tokens=3)\n"
        "print(out.shape[0])",
        Status.ok,
    ),
    "torch_hub": (
        "import torch\n"
        "model = torch.hub.load('mateuszbuda/brain-segmentation-pytorch', 'unet', in_channels=3, out_channels=1,"
        " init_features=8, pretrained=True)\n"
        "model.eval()\n"
        "print(tuple(model(torch.rand(1, 3, 32, 32)).shape))",
        Status.ok,
    ),
    "hub_missing": (
        "from transformers import AutoModel\nAutoModel.from_pretrained('some-org/model-not-in-cache')",
        Status.hub_error,
    ),
}


def hostile_snippets(outside_file: Path, port: int) -> dict[str, str]:
    return {
        "fork_bomb": "import os\nwhile True:\n    os.fork()",
        "memory_bomb": "x = b'a' * (8 << 30)",
        "huge_output": "import sys\nfor _ in range(20000):\n    sys.stdout.write('y' * 10000 + '\\n')",
        "huge_file": "with open('big.bin', 'wb') as f:\n    for _ in range(100):\n        f.write(b'0' * (1 << 20))",
        "read_outside": f"print(open({str(outside_file)!r}).read())",
        "env_secrets": (
            "import os\nprint(dict(os.environ))\n"
            "for pid in os.listdir('/proc'):\n"
            "    try:\n"
            "        print(open(f'/proc/{pid}/environ').read())\n"
            "    except Exception:\n"
            "        pass"
        ),
        "connect_loopback": (
            f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\nprint('connected')"
        ),
        "daemon": (
            "import os, subprocess\n"
            f"subprocess.Popen(['sleep', '{DAEMON_SLEEP}'], start_new_session=True)\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        os.execvp('sleep', ['sleep', '{DAEMON_SLEEP}'])\n"
            "    os._exit(0)\n"
            "print('spawned')"
        ),
        "write_scratch": "open('/tmp/left-behind', 'w').write('x')\nopen('left-behind', 'w').write('x')\nprint('wrote')",
        "after": "print('still works')",
    }


def leftover_daemons(token: str = DAEMON_SLEEP) -> list[str]:
    """Host PIDs of `sleep TOKEN` processes (the daemons our snippets try to leave behind)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline and b"python" not in cmdline:
                found.append(entry)
    return found


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(scope="module", params=["preloaded", "one-shot"])
def mode(request):
    """Preloaded fork-server workers (the default) or a fresh interpreter per snippet."""
    return request.param


class Listener:
    """A TCP listener on the host's loopback that records whether anyone connected."""

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def fast_batch(backend, mode, tmp_path_factory):
    """Status and hostile snippets (no heavy imports) in one batch with tight limits."""
    outside = tmp_path_factory.mktemp("outside") / "host-secret.txt"
    outside.write_text("host file content 1234")
    listener = Listener()
    os.environ["OPENAI_API_KEY"] = SECRET
    os.environ["HF_TOKEN"] = SECRET
    try:
        snippets = {k: code for k, (code, _) in STATUS_SNIPPETS.items()}
        snippets.update(hostile_snippets(outside, listener.port))
        config = SandboxConfig(
            backend=backend,
            timeout_s=6,
            memory_mb=512,
            max_procs=32,
            max_file_mb=16,
            max_output_kb=8,
            workers=2,
            preload=mode == "preloaded",
        )
        start = time.monotonic()
        results = run_snippets([{"id": k, "code": c} for k, c in snippets.items()], config, progress=False)
        elapsed = time.monotonic() - start
        time.sleep(0.5)
        daemons = leftover_daemons()
    finally:
        os.environ.pop("OPENAI_API_KEY")
        os.environ.pop("HF_TOKEN")
        listener.close()
    return {
        "results": {r.id: r for r in results},
        "listener": listener,
        "daemons": daemons,
        "elapsed": elapsed,
        "config": config,
    }


@pytest.mark.docker
@pytest.mark.parametrize("name", list(STATUS_SNIPPETS))
def test_each_status_is_classified_from_the_real_exception(fast_batch, name):
    result = fast_batch["results"][name]
    expected = STATUS_SNIPPETS[name][1]
    assert result.status is expected, result
    if expected is Status.ok:
        assert result.stdout == "hello from the sandbox\n" and result.exit_code == 0
    if name == "syntax":
        assert result.error_type == "SyntaxError"
    if name == "runtime":
        assert result.error_type == "ValueError" and result.error_message == "bad value"
    if name == "timeout":
        assert 5.5 < result.duration_s < 10


@pytest.mark.docker
def test_hostile_snippets_are_contained(fast_batch):
    r = fast_batch["results"]
    cap = fast_batch["config"].max_output_kb * 1024
    # fork bomb: forks fail at the process limit; the run ends (error or wall time), nothing survives
    assert r["fork_bomb"].status in {Status.runtime_error, Status.timeout}, r["fork_bomb"]
    assert r["memory_bomb"].status is Status.oom
    assert r["huge_output"].status is Status.ok
    assert len(r["huge_output"].stdout) < cap + 100 and "truncated" in r["huge_output"].stdout
    assert r["huge_file"].status is Status.runtime_error and "File too large" in r["huge_file"].error_message
    assert r["read_outside"].status is Status.runtime_error
    assert r["read_outside"].error_type == "FileNotFoundError" and "1234" not in r["read_outside"].stdout
    assert r["env_secrets"].status is Status.ok and "HF_HOME" in r["env_secrets"].stdout
    assert SECRET not in r["env_secrets"].stdout + r["env_secrets"].stderr
    assert r["connect_loopback"].status is Status.runtime_error
    assert "connected" not in r["connect_loopback"].stdout
    assert fast_batch["listener"].connections == 0
    assert r["daemon"].status is Status.ok and r["daemon"].stdout == "spawned\n"
    assert fast_batch["daemons"] == [], "a daemon outlived its snippet"
    assert r["after"].status is Status.ok and r["after"].stdout == "still works\n"


@pytest.mark.docker
def test_no_container_or_scratch_survives_a_run(fast_batch, backend):
    import tempfile

    import docker

    config = fast_batch["config"].model_copy(update={"workers": 1})
    # Compare with what existed before: the engine and /tmp are shared with anything else running
    # on the machine (other test sessions, crashed runs), which this test must not blame on itself.
    import socket

    client = docker.from_env()
    # only what this process made: other sessions on the machine run sandboxes too
    label = {"label": f"org.gorilla-rlaif.owner={socket.gethostname()}:{os.getpid()}"}
    containers_before = {c.id for c in client.containers.list(all=True, filters=label)}
    scratch_before = set(Path(tempfile.gettempdir()).glob(f"gorilla-sandbox-{os.getpid()}-*"))
    # one warm worker runs both: the second must not see the first one's files
    results = run_snippets(
        [
            {"id": "write", "code": "open('/tmp/mine', 'w').write('1'); open('mine', 'w').write('1')"},
            {"id": "look", "code": "import os; print(sorted(os.listdir('/tmp')), sorted(os.listdir('.')))"},
        ],
        config,
        progress=False,
    )
    assert [r.status for r in results] == [Status.ok, Status.ok]
    assert "mine" not in results[1].stdout
    assert {c.id for c in client.containers.list(all=True, filters=label)} <= containers_before
    assert set(Path(tempfile.gettempdir()).glob(f"gorilla-sandbox-{os.getpid()}-*")) <= scratch_before


# A mixed set for comparing the two modes: model loading, every cheap status, stdout.
MIXED = {
    **{k: c for k, (c, _) in MODEL_SNIPPETS.items()},
    **{k: c for k, (c, _) in STATUS_SNIPPETS.items() if k not in ("timeout", "oom")},
}


@pytest.fixture(scope="module")
def mixed_runs(backend):
    """The mixed set run both ways on one backend: {mode: {id: result}}."""
    runs = {}
    for mode in ("preloaded", "one-shot"):
        config = SandboxConfig(backend=backend, timeout_s=90, workers=2, preload=mode == "preloaded")
        results = run_snippets([{"id": k, "code": c} for k, c in MIXED.items()], config, progress=False)
        runs[mode] = {r.id: r for r in results}
    return runs


@pytest.mark.docker
def test_preloaded_gives_the_same_results_as_one_shot(mixed_runs):
    pre, one = mixed_runs["preloaded"], mixed_runs["one-shot"]
    assert {k: r.status for k, r in pre.items()} == {k: r.status for k, r in one.items()}
    assert {k: r.error_type for k, r in pre.items()} == {k: r.error_type for k, r in one.items()}
    assert {k: r.stdout for k, r in pre.items()} == {k: r.stdout for k, r in one.items()}
    expected = {k: v for k, (_, v) in {**MODEL_SNIPPETS, **STATUS_SNIPPETS}.items() if k in MIXED}
    assert {k: r.status for k, r in pre.items()} == expected


@pytest.mark.docker
@pytest.mark.parametrize("mode", ["preloaded", "one-shot"])
def test_apibench_style_snippets_load_models_offline(mixed_runs, mode):
    results = [mixed_runs[mode][k] for k in MODEL_SNIPPETS]
    by_id = {r.id: r for r in results}
    for name, (_, expected) in MODEL_SNIPPETS.items():
        assert by_id[name].status is expected, by_id[name]
    assert by_id["torch_hub"].stdout.strip() == "(1, 1, 32, 32)"
    assert by_id["hf_pipeline"].stdout.strip() == "5"  # fill-mask returns the top 5
    summary = summarize(results)
    assert summary["counts"]["ok"] == 3 and summary["hub_errors"] == 1
    assert summary["executability"] == 0.75 and summary["executability_excluding_hub_errors"] == 1.0


@pytest.mark.docker
def test_nothing_a_snippet_does_reaches_the_next_on_the_same_worker(backend):
    """One preloaded worker (workers=1) runs a polluter, then a probe: module patches,
    environment, cwd, files, threads and sys.path changes all died with the polluter's fork."""
    config = SandboxConfig(backend=backend, timeout_s=20, workers=1, preload_modules=["transformers"])
    polluter = (
        "import os, sys, threading, time, transformers\n"
        "transformers.pipeline = 'patched'\n"
        "transformers.__version__ = 'patched'\n"
        "os.environ['POLLUTED'] = '1'\n"
        "os.environ['HF_HUB_OFFLINE'] = '0'\n"
        "sys.path.insert(0, '/tmp/evil')\n"
        "sys.modules['json'] = None\n"
        "open('/tmp/polluted', 'w').write('x'); open('polluted', 'w').write('x')\n"
        "threading.Thread(target=time.sleep, args=(60,)).start()\n"
        "print('polluted')"
    )
    probe = (
        "import os, sys, threading, json, transformers\n"
        "print(transformers.pipeline != 'patched', transformers.__version__ != 'patched',\n"
        "      'POLLUTED' not in os.environ, os.environ['HF_HUB_OFFLINE'] == '1',\n"
        "      '/tmp/evil' not in sys.path, not os.path.exists('/tmp/polluted'),\n"
        "      os.listdir('.') == [], threading.active_count() == 1, 'transformers' in sys.modules)"
    )
    results = run_snippets(
        [{"id": "polluter", "code": polluter}, {"id": "probe", "code": probe}], config, progress=False
    )
    assert [r.status for r in results] == [Status.ok, Status.ok], results
    assert results[0].stdout == "polluted\n"
    assert results[1].stdout == " ".join(["True"] * 9) + "\n"


@pytest.mark.docker
def test_a_snippet_that_kills_its_worker_gets_a_status_and_the_run_continues(backend):
    config = SandboxConfig(backend=backend, timeout_s=20, workers=1, preload_modules=["json"])
    snippets = [
        {"id": "before", "code": "print('before')"},
        {"id": "killer", "code": "import os\nos.kill(os.getppid(), 9)\nimport time\ntime.sleep(5)"},
        {"id": "after", "code": "print('after')"},
        {"id": "killer2", "code": "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)"},
        {"id": "last", "code": "print('last')"},
    ]
    results = run_snippets(snippets, config, progress=False)
    assert [r.id for r in results] == [s["id"] for s in snippets]
    by_id = {r.id: r for r in results}
    assert by_id["killer"].status is Status.runtime_error and by_id["killer"].error_type == "WorkerDied"
    assert by_id["killer2"].status is Status.runtime_error and by_id["killer2"].error_type == "WorkerDied"
    assert [by_id[k].stdout for k in ("before", "after", "last")] == ["before\n", "after\n", "last\n"]
    assert all(by_id[k].status is Status.ok for k in ("before", "after", "last"))


def test_a_hung_worker_is_replaced_and_its_snippet_times_out(monkeypatch):
    """A snippet that stops its fork server (SIGSTOP) leaves it unable to answer: the harness
    kills it after the grace period, reports a timeout, and the next snippet runs on a new one."""
    from gorilla_rlaif.harness.backends import base

    monkeypatch.setattr(base, "GRACE_S", 1.0)
    config = SandboxConfig(backend="local", timeout_s=2, workers=1, preload_modules=["json"])
    snippets = [
        {"id": "stopper", "code": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)"},
        {"id": "after", "code": "print('after')"},
    ]
    results = run_snippets(snippets, config, progress=False)
    assert results[0].status is Status.timeout and "no answer from the sandbox" in results[0].error_message
    assert results[1].status is Status.ok and results[1].stdout == "after\n"


# Reach the host: under bubblewrap with the network allowed the snippet shares the host's network
# (loopback); a docker container on the bridge reaches the host at its default gateway.
REACH_HOST = """
import os, socket
host = "127.0.0.1"
if {docker}:
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            host = socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
s = socket.create_connection((host, {port}), timeout=5)
print("connected", host)
"""

DOWNLOAD = """
import os
assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ
d = os.path.join(os.environ["HF_HOME"], "hub", "models--{name}", "blobs")
os.makedirs(d, exist_ok=True)
open(os.path.join(d, "weights"), "w").write("{name} weights")
# (transformers also writes hub/version.txt into a writable cache when it is imported)
print(sorted(n for n in os.listdir(os.path.join(os.environ["HF_HOME"], "hub")) if n.startswith("models--")))
"""


@pytest.mark.docker
def test_network_mode_reaches_the_network_and_shares_one_download_cache(backend, tmp_path):
    """--network: the snippet can connect out, the hubs are not forced offline, and what one
    sandbox writes to the cache (a "download") is there, and extendable, for the next run, which
    runs under another uid. Nothing on the Hub is reachable here, so the download is a file write."""
    listener = Listener("0.0.0.0")
    cache = tmp_path / "cache"
    try:
        config = SandboxConfig(backend=backend, network=True, model_cache=cache, timeout_s=30, workers=1)
        first = run_snippets(
            [
                {"id": "reach", "code": REACH_HOST.format(port=listener.port, docker=backend == "docker")},
                {"id": "a", "code": DOWNLOAD.format(name="org--a")},
            ],
            config,
            progress=False,
        )
        second = run_snippets([{"id": "b", "code": DOWNLOAD.format(name="org--b")}], config, progress=False)
    finally:
        listener.close()
    by_id = {r.id: r for r in first + second}
    assert by_id["reach"].status is Status.ok, by_id["reach"].stderr
    assert by_id["reach"].stdout.startswith("connected")
    assert listener.connections >= 1
    assert by_id["a"].status is Status.ok, by_id["a"].stderr
    assert by_id["b"].status is Status.ok, by_id["b"].stderr
    assert by_id["b"].stdout.strip() == "['models--org--a', 'models--org--b']"
    assert (cache / "huggingface/hub/models--org--a/blobs/weights").read_text() == "org--a weights"
    # and the default stays offline, the cache read-only
    offline = SandboxConfig(backend=backend, model_cache=cache, timeout_s=30, workers=1)
    [r] = run_snippets([{"id": "c", "code": DOWNLOAD.format(name="org--c")}], offline, progress=False)
    assert r.status is not Status.ok
    assert not (cache / "huggingface/hub/models--org--c").exists()


# Three children hold 150 MB each, then the snippet itself takes 450 MB: every process stays under
# its own address-space rlimit (512 MB), but together they exceed the sandbox's memory cgroup
# (512 MB + overhead: docker's container, or the local backend's own cgroup), so the kernel's OOM
# killer kills the largest: the snippet.
CGROUP_OOM = """
import os, time
for i in range(3):
    if os.fork() == 0:
        b = bytearray(150 * 1024 * 1024)
        for j in range(0, len(b), 4096):
            b[j] = 1
        time.sleep(30)
        os._exit(0)
time.sleep(1.5)
b = bytearray(450 * 1024 * 1024)
for j in range(0, len(b), 4096):
    b[j] = 1
print("survived")
"""


@pytest.mark.docker
@pytest.mark.parametrize("preload", [True, False], ids=["preloaded", "one-shot"])
def test_the_kernel_oom_killer_is_classified_as_oom_and_the_run_goes_on(backend, preload):
    from gorilla_rlaif.harness import cgroup

    if backend == "local" and not cgroup.available():
        pytest.skip("the local backend's memory cgroup needs root and a writable memory controller")
    before = {
        p.name
        for root in (cgroup.ROOT_V1, cgroup.ROOT_V2)
        if root.is_dir()
        for p in root.glob(f"{cgroup.PREFIX}{os.getpid()}-*")  # ours: other runs share the machine
    }
    config = SandboxConfig(backend=backend, memory_mb=512, timeout_s=30, workers=1, preload=preload)
    snippets = [{"id": "oom", "code": CGROUP_OOM}, {"id": "after", "code": "print('fine')"}]
    oom, after = run_snippets(snippets, config, progress=False)
    assert oom.status is Status.oom, (oom.status, oom.error_message, oom.stderr)
    assert oom.error_type == "OOMKilled" and oom.exit_code == -9
    assert oom.stdout == ""
    assert oom.duration_s < 25, "the sleeping children must die with the snippet, not hold the run"
    assert after.status is Status.ok and after.stdout == "fine\n"
    left = {
        p.name
        for root in (cgroup.ROOT_V1, cgroup.ROOT_V2)
        if root.is_dir()
        for p in root.glob(f"{cgroup.PREFIX}{os.getpid()}-*")  # ours: other runs share the machine
    }
    assert left <= before, "a local sandbox's memory cgroup outlived the run"
