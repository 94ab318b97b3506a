"""The Ray backend on a real local Ray cluster: two node processes on this machine (`ray start
--head` and `ray start --address`, 1 CPU each, on loopback addresses), each running its own
sandbox pool (bubblewrap, light `json` workers). The ray extra is installed by `make venv`, so
these run in CI; they fail, never skip, without it."""

from __future__ import annotations

import json
import threading
import time

import pytest

from gorilla_rlaif.cli import bench_main
from gorilla_rlaif.harness import SandboxConfig, run_snippets
from gorilla_rlaif.testing.ray_cluster import LocalRayCluster

SNIPPETS = {
    "ok": "print('hello from a node')",
    "syntax": "def broken(:\n    pass",
    "import": "import definitely_not_a_module_xyz",
    "name": "print(undefined_variable)",
    "runtime": "raise ValueError('bad value')",
    "timeout": "while True:\n    pass",
}


@pytest.fixture(scope="module")
def cluster():
    with LocalRayCluster(nodes=2, cpus=1) as c:
        yield c


def light(**kwargs) -> SandboxConfig:
    return SandboxConfig(**{"preload_modules": ["json"], "timeout_s": 2, **kwargs})


def test_a_batch_split_across_two_nodes_gets_the_local_backends_statuses(cluster, tmp_path, capsys):
    rows = [{"id": f"{name}-{i}", "code": code} for i in range(2) for name, code in SNIPPETS.items()]
    local = run_snippets(rows, light(backend="local", workers=2), progress=False)
    source = tmp_path / "snippets.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "ray.jsonl"
    # the CLI joins the cluster itself, as a user's driver would
    code = bench_main(
        ["exec", str(source), "-o", str(out), "--backend", "ray", "--ray-address", cluster.address,
         "--node-backend", "local", "--workers-per-node", "1", "--preload", "json", "--timeout", "2",
         "--no-progress"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    got = {json.loads(line)["id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert {r.id: r.status.value for r in local} == {k: v["status"] for k, v in got.items()}
    assert len(got) == len(rows)
    summary = json.loads(out.with_suffix(".meta.json").read_text())
    used = summary["run"]["nodes"]
    assert sorted(name.split()[0] for name in used) == ["127.0.0.2", "127.0.0.3"], used  # both nodes ran some
    assert sum(used.values()) == len(rows) and summary["run"]["lost_nodes"] == []
    assert "ran on 127.0.0.2" in printed and "ran on 127.0.0.3" in printed


def test_the_actors_and_their_warm_workers_serve_the_next_batch(cluster):
    from gorilla_rlaif.harness.backends import raycluster

    config = light(backend="ray", ray_address=cluster.address, workers_per_node=1)
    first = run_snippets([{"id": f"a{i}", "code": "print(1)"} for i in range(4)], config, progress=False)
    actors = {key: [n.actor._actor_id for n in nodes] for key, nodes in raycluster._POOLS.items()}
    second = run_snippets([{"id": f"b{i}", "code": "print(2)"} for i in range(4)], config, progress=False)
    assert [r.stdout for r in first + second] == ["1\n"] * 4 + ["2\n"] * 4
    assert {key: [n.actor._actor_id for n in nodes] for key, nodes in raycluster._POOLS.items()} == actors
    assert any(len(ids) == 2 for ids in actors.values())  # one actor per node


def test_a_node_killed_mid_batch_loses_no_snippet_and_is_named(cluster, tmp_path):
    """Runs last: it kills the second node."""
    snippets = [{"id": f"s{i}", "code": f"import time\ntime.sleep(0.4)\nprint({i})"} for i in range(16)]
    out = tmp_path / "out.jsonl"

    def kill_when_started():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both nodes are busy once a few rows are in
            if out.exists() and len(out.read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        killed.append(cluster.kill_node(1))

    killed: list[int] = []
    killer = threading.Thread(target=kill_when_started)
    killer.start()
    stats: dict = {}
    config = light(backend="ray", ray_address=cluster.address, workers_per_node=1, timeout_s=10)
    results = run_snippets(snippets, config, output=out, progress=False, stats=stats)
    killer.join()
    assert killed and killed[0] > 0
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(16)]
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(s["id"] for s in snippets)  # one row per snippet: no loss, no duplicate
    assert [name.split()[0] for name in stats["lost_nodes"]] == ["127.0.0.3"]
    assert stats["requeued"] >= 1
    assert sum(stats["nodes"].values()) == 16
    assert "127.0.0.3" not in cluster.alive() or len(cluster.alive()) == 2  # GCS may not have noticed yet
