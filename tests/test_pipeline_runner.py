"""The stage machinery on plain-Python stages: skip, re-run downstream, resume, failures, manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.pipeline import MANIFEST, Pipeline, Stage


def make_stages(root: Path, calls: list[str], settings: dict | None = None) -> list[Stage]:
    """a -> b -> c, and a -> d (d does not depend on b or c). Each writes a file from its input."""
    settings = settings or {}

    def writer(name: str, source: str | None):
        def run() -> dict:
            calls.append(name)
            text = (root / source).read_text() if source else "seed"
            (root / name).write_text(f"{text}+{name}{settings.get(name, '')}")
            return {"wrote": name}

        return run

    return [
        Stage("a", "first", writer("a", None), outputs=(root / "a",), config=settings.get("a")),
        Stage("b", "second", writer("b", "a"), outputs=(root / "b",), after=("a",), config=settings.get("b")),
        Stage("c", "third", writer("c", "b"), outputs=(root / "c",), after=("b",)),
        Stage("d", "side", writer("d", "a"), outputs=(root / "d",), after=("a",)),
    ]


def run(root: Path, settings: dict | None = None) -> tuple[list[str], dict]:
    calls: list[str] = []
    manifest = Pipeline(make_stages(root, calls, settings), root).run(progress=False)
    return calls, manifest


def test_first_run_runs_all_then_everything_is_skipped(tmp_path):
    calls, manifest = run(tmp_path)
    assert calls == ["a", "b", "c", "d"]
    assert (tmp_path / "c").read_text() == "seed+a+b+c"
    assert all(manifest["stages"][s]["status"] == "done" for s in "abcd")
    assert manifest["stages"]["b"]["result"] == {"wrote": "b"}
    assert manifest["stages"]["b"]["duration_s"] >= 0
    assert "torch" in manifest["stages"]["b"]["versions"]

    calls, manifest = run(tmp_path)
    assert calls == []
    assert manifest["runs"][-1]["skipped"] == ["a", "b", "c", "d"]
    on_disk = json.loads((tmp_path / MANIFEST).read_text())
    assert len(on_disk["runs"]) == 2 and on_disk["pipeline"]["status"] == "done"


def test_deleting_an_output_reruns_it_and_downstream_only(tmp_path):
    run(tmp_path)
    (tmp_path / "b").unlink()
    calls, manifest = run(tmp_path)
    assert calls == ["b", "c"]  # a (upstream) and d (not downstream of b) are kept
    assert manifest["runs"][-1]["skipped"] == ["a", "d"]

    (tmp_path / "a").unlink()
    calls, _ = run(tmp_path)
    assert calls == ["a", "b", "c", "d"]


def test_changed_settings_or_edited_input_rerun_downstream(tmp_path):
    run(tmp_path)
    calls, _ = run(tmp_path, settings={"b": "!"})
    assert calls == ["b", "c"]
    assert (tmp_path / "c").read_text() == "seed+a+b!+c"

    # an output edited by hand is the new truth: its stage is kept, its consumers re-run
    (tmp_path / "a").write_text("edited")
    calls, _ = run(tmp_path, settings={"b": "!"})
    assert calls == ["b", "c", "d"]
    assert (tmp_path / "d").read_text() == "edited+d"


def test_a_changed_sandbox_reruns_the_stages_that_run_code_in_it(tmp_path, monkeypatch):
    """An eval's numbers depend on the sandbox world it ran against: a new execution environment
    or stand-in world (a gorilla-rlaif upgrade) re-runs the evals in an existing directory."""
    from gorilla_rlaif.harness.config import SandboxConfig
    from gorilla_rlaif.harness.world import fingerprint
    from gorilla_rlaif.pipeline.stages import sandbox_identity

    calls: list[str] = []
    world = {"id": "world-1"}

    def stages() -> list[Stage]:
        def body(name: str):
            def go() -> dict:
                calls.append(name)
                (tmp_path / name).write_text(world["id"])
                return {}

            return go

        return [
            Stage("train", "t", body("train"), outputs=(tmp_path / "train",)),
            Stage(
                "eval",
                "e",
                body("eval"),
                outputs=(tmp_path / "eval",),
                after=("train",),
                identity=lambda: world["id"],
            ),
        ]

    Pipeline(stages(), tmp_path).run(progress=False)
    assert calls == ["train", "eval"]
    Pipeline(stages(), tmp_path).run(progress=False)
    assert calls == ["train", "eval"]  # same world: nothing re-runs
    world["id"] = "world-2"
    plan = {d.stage.name: (d.run, d.reason) for d in Pipeline(stages(), tmp_path).plan()}
    assert plan["eval"] == (True, "the sandbox (its execution environment or stand-in world) changed")
    Pipeline(stages(), tmp_path).run(progress=False)
    assert calls == ["train", "eval", "eval"] and (tmp_path / "eval").read_text() == "world-2"

    # the identity the pipeline uses is the harness's sandbox hash, which follows the world
    local = SandboxConfig(backend="local")
    assert sandbox_identity(None) is None
    before = sandbox_identity(local)
    monkeypatch.setattr("gorilla_rlaif.harness.world.fingerprint", lambda: fingerprint() + "-changed")
    assert sandbox_identity(local) != before


def test_plan_predicts_the_run(tmp_path):
    run(tmp_path)
    (tmp_path / "c").unlink()
    pipeline = Pipeline(make_stages(tmp_path, []), tmp_path)
    plan = {d.stage.name: (d.run, d.reason) for d in pipeline.plan()}
    assert plan["c"] == (True, "output c missing")
    assert not plan["a"][0] and not plan["b"][0] and not plan["d"][0]
    assert (tmp_path / "c").exists() is False  # planning runs nothing


def test_failure_is_recorded_and_partial_output_is_kept_for_resume(tmp_path):
    attempts: list[int] = []

    def flaky() -> dict:
        rows = tmp_path / "rows.txt"
        done = rows.read_text().splitlines() if rows.exists() else []
        with rows.open("a") as fh:
            for i in range(len(done), 4):
                if i == 2 and not attempts:
                    attempts.append(i)
                    raise RuntimeError("killed at row 2")
                fh.write(f"{i}\n")
        return {"rows": 4}

    stages = [Stage("rows", "append rows", flaky, outputs=(tmp_path / "rows.txt",))]
    with pytest.raises(RuntimeError, match="killed at row 2"):
        Pipeline(stages, tmp_path).run(progress=False)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["stages"]["rows"]["status"] == "failed"
    assert "killed at row 2" in manifest["stages"]["rows"]["error"]
    assert manifest["pipeline"]["status"] == "failed at rows"

    Pipeline(stages, tmp_path).run(progress=False)  # same inputs: resumes in the partial file
    assert (tmp_path / "rows.txt").read_text().splitlines() == ["0", "1", "2", "3"]


def test_stale_output_of_a_finished_stage_is_removed_before_rerun(tmp_path):
    seen: list[bool] = []

    def body() -> dict:
        seen.append((tmp_path / "out" / "old.txt").exists())
        (tmp_path / "out").mkdir(exist_ok=True)
        (tmp_path / "out" / "new.txt").write_text("x")
        return {}

    def stages(setting: int) -> list[Stage]:
        return [Stage("s", "dir output", body, outputs=(tmp_path / "out",), config=setting)]

    Pipeline(stages(1), tmp_path).run(progress=False)
    (tmp_path / "out" / "old.txt").write_text("left over")
    Pipeline(stages(2), tmp_path).run(progress=False)
    assert seen == [False, False]


def test_volatile_files_do_not_invalidate_consumers(tmp_path):
    calls: list[str] = []

    def model() -> dict:
        calls.append("model")
        (tmp_path / "m").mkdir(exist_ok=True)
        (tmp_path / "m" / "weights").write_text("w")
        return {}

    def use() -> dict:
        calls.append("use")
        (tmp_path / "u").write_text((tmp_path / "m" / "weights").read_text())
        return {}

    stages = [
        Stage("model", "m", model, outputs=(tmp_path / "m",), volatile=("README.md",)),
        Stage("use", "u", use, outputs=(tmp_path / "u",), after=("model",)),
    ]
    Pipeline(stages, tmp_path).run(progress=False)
    (tmp_path / "m" / "README.md").write_text("a model card written later")
    Pipeline(stages, tmp_path).run(progress=False)
    assert calls == ["model", "use"]
    (tmp_path / "m" / "weights").write_text("retrained")
    Pipeline(stages, tmp_path).run(progress=False)
    assert calls == ["model", "use", "use"]


def test_until_stops_and_bad_graphs_are_refused(tmp_path):
    calls: list[str] = []
    manifest = Pipeline(make_stages(tmp_path, calls), tmp_path).run(progress=False, until="b")
    assert calls == ["a", "b"]
    assert manifest["pipeline"]["status"] == "stopped after b"
    manifest = Pipeline(make_stages(tmp_path, calls), tmp_path).run(progress=False, until="b")
    assert calls == ["a", "b"] and manifest["runs"][-1]["skipped"] == ["a", "b"]  # stops when skipped too
    with pytest.raises(ConfigError, match="did you mean 'c'"):
        Pipeline(make_stages(tmp_path, calls), tmp_path).run(progress=False, until="cc")
    stages = make_stages(tmp_path, calls)
    with pytest.raises(ConfigError, match="do not run before it"):
        Pipeline([stages[1], stages[0]], tmp_path)


def test_until_runs_the_stage_and_only_what_it_needs(tmp_path):
    calls: list[str] = []
    manifest = Pipeline(make_stages(tmp_path, calls), tmp_path).run(progress=False, until="d")
    assert calls == ["a", "d"]  # not b and c, which come before d but d does not need
    assert manifest["pipeline"]["status"] == "stopped after d"
    plan = Pipeline(make_stages(tmp_path, calls), tmp_path).plan(until="c")
    assert [(d.stage.name, d.run) for d in plan] == [("a", False), ("b", True), ("c", True)]  # not d

    # per-seed stages `x@S`: a bare name means that stage of every seed
    def stage(name: str, after: tuple[str, ...] = ()) -> Stage:
        return Stage(name, name, lambda: None, outputs=(tmp_path / name,), after=after)

    seeded = [
        stage("a"),
        stage("x@0", ("a",)),
        stage("x@1", ("a",)),
        stage("y@0", ("x@0",)),
        stage("y@1", ("x@1",)),
    ]
    pipeline = Pipeline(seeded, tmp_path / "seeded")
    assert pipeline.select("y") == {"a", "x@0", "x@1", "y@0", "y@1"}
    assert pipeline.select("y@1") == {"a", "x@1", "y@1"}
    with pytest.raises(ConfigError, match="did you mean 'y'"):
        pipeline.select("yy")


def test_unreadable_manifest_is_a_clear_error(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable manifest"):
        Pipeline(make_stages(tmp_path, []), tmp_path)
