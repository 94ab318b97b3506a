"""run_snippets behaviour around the sandbox: resume, input errors, harness failures, the
fallback without bubblewrap, fresh containers, the CLI, and classification of raw reports."""

from __future__ import annotations

import json
import logging

import pytest

from gorilla_rlaif.cli import bench_main
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.harness import SandboxConfig, Status, run_snippets
from gorilla_rlaif.harness.backends import SandboxUnavailable
from gorilla_rlaif.harness.backends.local import LocalServerWorker, LocalWorker
from gorilla_rlaif.harness.classify import classify
from gorilla_rlaif.io import read_jsonl
from tests.test_harness_sandbox import leftover_daemons


def test_resume_reruns_only_snippets_without_a_result(tmp_path):
    """A row is reused for the same id, code and limits; one of an older format (no code hash)
    or of other limits runs again, and the file keeps one row per id."""
    from gorilla_rlaif.harness.run import code_sha256, sandbox_hash

    out = tmp_path / "results.jsonl"
    config = SandboxConfig(backend="local", timeout_s=10, workers=2)
    snippets = [{"id": i, "code": f"print('{i}')"} for i in "abcd"]
    done = {"status": "ok", "exit_code": 0, "duration_s": 0.5, "stdout": "from before\n", "stderr": ""}
    rows = [
        {"id": "a", **done, "code_sha256": code_sha256("print('a')"), "sandbox_hash": sandbox_hash(config)},
        {"id": "c", **done},  # written before rows were keyed: run again
        {"id": "d", **done, "code_sha256": code_sha256("print('d')"), "sandbox_hash": "other-limits"},
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"id": "b", "sta')  # a crash mid-line
    results = run_snippets(snippets, config, output=out, progress=False)
    assert [r.stdout for r in results] == ["from before\n", "b\n", "c\n", "d\n"]
    rows = [row for _, row in read_jsonl(out)]
    assert sorted(row["id"] for row in rows) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("preload", [True, False], ids=["preloaded", "one-shot"])
def test_a_snippets_stdin_files_and_tighter_limits_reach_the_sandbox_and_key_its_row(tmp_path, preload):
    """What a code-execution service passes per request (SandboxFusion's stdin, files,
    fetch_files, run_timeout) works on both worker kinds, and a changed input runs again."""
    import base64

    out = tmp_path / "results.jsonl"
    config = SandboxConfig(
        backend="local", timeout_s=10, workers=1, preload_modules=["json"], preload=preload
    )
    code = "import time\nname = input()\nopen('out/hi.txt', 'w').write(open('in/x.txt').read() + name)\ntime.sleep(float(name))"
    snippet = {
        "id": "s", "code": code, "stdin": "0\n", "files": {"in/x.txt": base64.b64encode(b"hello ").decode()},
        "fetch_files": ["out/hi.txt", "nope.txt"],
    }  # fmt: skip
    (first,) = run_snippets([snippet], config, output=out, progress=False)
    assert first.status is Status.ok and first.files == {"out/hi.txt": base64.b64encode(b"hello 0").decode()}
    (slow,) = run_snippets([{**snippet, "stdin": "5\n", "timeout_s": 1}], config, output=out, progress=False)
    assert slow.status is Status.timeout and slow.duration_s < 4  # ran again, under its own 1 s limit
    assert len(out.read_text().splitlines()) == 1  # one row per id, the newest
    with pytest.raises(DataError, match="not a relative path"):
        run_snippets([{**snippet, "fetch_files": ["../../etc/passwd"]}], config, progress=False)


def test_bad_input_is_named():
    config = SandboxConfig(backend="local")
    with pytest.raises(DataError, match="duplicate id 'x'"):
        run_snippets([{"id": "x", "code": "1"}, {"id": "x", "code": "2"}], config)
    with pytest.raises(DataError, match="snippet #1"):
        run_snippets([{"code": "1"}], config)


@pytest.mark.parametrize(("preload", "worker_class"), [(False, LocalWorker), (True, LocalServerWorker)])
def test_a_harness_failure_is_a_sandbox_error_and_the_run_continues(monkeypatch, preload, worker_class):
    real = worker_class.execute

    def flaky(self, request):
        if "boom" in request["code"]:
            raise RuntimeError("disk on fire")
        return real(self, request)

    monkeypatch.setattr(worker_class, "execute", flaky)
    config = SandboxConfig(
        backend="local", timeout_s=10, workers=1, preload=preload, preload_modules=["json"]
    )
    results = run_snippets(
        [{"id": "1", "code": "# boom"}, {"id": "2", "code": "print(2)"}], config, progress=False
    )
    assert results[0].status is Status.sandbox_error and "disk on fire" in results[0].error_message
    assert results[1].status is Status.ok


def test_unreachable_docker_engine_is_a_clear_error(tmp_path):
    config = SandboxConfig(backend="docker", docker_host=f"unix://{tmp_path}/no.sock")
    with pytest.raises(SandboxUnavailable, match="cannot reach a Docker engine"):
        run_snippets([{"id": "1", "code": "1"}], config, progress=False)


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("", True),
        ("unix:///run/podman/podman.sock", True),
        ("tcp://127.0.0.1:2375", True),
        ("tcp://localhost:2376", True),
        ("tcp://10.1.2.3:2376", False),
        ("ssh://me@build-box", False),
    ],
)
def test_an_engine_on_another_machine_is_refused_before_any_run(monkeypatch, host, local):
    """Bind mounts (runner, libraries, model cache) only exist on this machine."""
    from gorilla_rlaif.harness.backends.docker import engine_is_local

    assert engine_is_local(host) is local
    if not local:
        monkeypatch.setenv("DOCKER_HOST", host)
        with pytest.raises(SandboxUnavailable, match="engine on another machine"):
            run_snippets([{"id": "1", "code": "1"}], SandboxConfig(backend="docker"), progress=False)


def test_missing_image_says_how_to_build_it():
    config = SandboxConfig(backend="docker", image="gorilla-rlaif-sandbox:does-not-exist")
    with pytest.raises(SandboxUnavailable, match=r"setup-sandbox\.sh"):
        run_snippets([{"id": "1", "code": "1"}], config, progress=False)


@pytest.mark.docker
def test_fresh_containers_classify_and_contain():
    config = SandboxConfig(backend="docker", container_reuse=False, timeout_s=5, memory_mb=256, workers=2)
    snippets = [
        {"id": "ok", "code": "import os; print(os.getuid(), sorted(os.environ)[:1])"},
        {"id": "oom", "code": "x = b'a' * (1 << 30)"},
        {"id": "loop", "code": "while True: pass"},
    ]
    by_id = {r.id: r for r in run_snippets(snippets, config, progress=False)}
    assert by_id["ok"].status is Status.ok and by_id["ok"].stdout.startswith("65534 ")
    assert by_id["oom"].status is Status.oom
    assert by_id["loop"].status is Status.timeout


def test_process_fallback_warns_scrubs_env_and_kills_daemons(monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback-secret")
    config = SandboxConfig(backend="local", local_isolation="process", timeout_s=5, workers=1)
    daemon = (
        "import subprocess\nsubprocess.Popen(['sleep', '4243.5'], start_new_session=True)\n"
        "import os\nprint('OPENAI_API_KEY' in os.environ)"
    )
    with caplog.at_level(logging.WARNING):
        results = run_snippets(
            [{"id": "d", "code": daemon}, {"id": "t", "code": "while True: pass"}], config, progress=False
        )
    assert "WITHOUT bubblewrap" in caplog.text
    assert results[0].status is Status.ok and results[0].stdout == "False\n"
    assert results[1].status is Status.timeout
    assert leftover_daemons("4243.5") == []


def test_cli_exec_writes_results_and_summary(tmp_path, capsys):
    snippets = tmp_path / "snippets.jsonl"
    snippets.write_text('{"id": 1, "code": "print(1)"}\n{"id": 2, "code": "import nope"}\n')
    out = tmp_path / "out.jsonl"
    assert bench_main(["exec", str(snippets), "-o", str(out), "--backend", "local", "--timeout", "10"]) == 0
    rows = {row["id"]: row for _, row in read_jsonl(out)}
    assert rows["1"]["status"] == "ok" and rows["2"]["status"] == "import_error"
    summary = json.loads((tmp_path / "out.meta.json").read_text())
    assert summary["executability"] == 0.5 and summary["counts"]["import_error"] == 1
    assert summary["provenance"]["config"]["backend"] == "local"
    assert "executability 50.0% (1/2)" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "code": "x"}\n{"id": 2}\n')
    assert bench_main(["exec", str(bad), "-o", str(tmp_path / "o.jsonl"), "--backend", "local"]) == 2
    assert f"{bad}:2:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ({"child": {}, "returncode": 0}, "ok"),
        ({"child": {}, "returncode": 3}, "runtime_error"),
        ({"child": {}, "returncode": -9, "oom_killed": True}, "oom"),
        ({"child": {}, "returncode": -9, "oom_killed": False}, "runtime_error"),
        ({"child": {}, "returncode": -24}, "timeout"),  # SIGXCPU
        ({"child": {}, "returncode": -11}, "runtime_error"),
        ({"timed_out": True, "returncode": -9}, "timeout"),
        ({"child": {"setup_error": "x"}, "returncode": 1}, "sandbox_error"),
        (
            {"child": {"exception": {"type": "OSError", "mro": ["OSError"], "message": "m", "hub": True}}},
            "hub_error",
        ),
        (
            {
                "child": {
                    "exception": {
                        "type": "ModuleNotFoundError",
                        "mro": ["ModuleNotFoundError", "ImportError"],
                        "message": "m",
                    }
                }
            },
            "import_error",
        ),
        (
            {
                "child": {
                    "exception": {
                        "type": "UnboundLocalError",
                        "mro": ["UnboundLocalError", "NameError"],
                        "message": "m",
                    }
                }
            },
            "name_error",
        ),
    ],
)
def test_classify_raw_reports(raw, status):
    assert classify(raw)["status"] == status


def test_wiping_scratch_never_follows_links_out_of_it(tmp_path):
    """The runner empties scratch dirs between snippets, making each subdirectory writable first
    (a snippet may chmod 000 one). A link in scratch (the TORCH_HOME scratch links the stand-in
    repositories) must not lend its target that chmod: the target keeps its mode and content."""
    from gorilla_rlaif.harness import in_sandbox as runner

    outside = tmp_path / "world" / "repo"
    outside.mkdir(parents=True)
    (outside / "hubconf.py").write_text("x = 1\n")
    outside.chmod(0o755)
    scratch = tmp_path / "scratch"
    (scratch / "hub").mkdir(parents=True)
    (scratch / "hub" / "repo").symlink_to(outside)
    locked = scratch / "locked"
    locked.mkdir()
    (locked / "f").write_text("y")
    locked.chmod(0)
    runner._wipe([str(scratch)])
    assert list(scratch.iterdir()) == []
    assert (
        oct(outside.stat().st_mode & 0o777) == "0o755" and (outside / "hubconf.py").read_text() == "x = 1\n"
    )
