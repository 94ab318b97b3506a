"""The shape of the code, guarded: imports go one way, every command takes the same config path,
the presets agree, shared settings are nested whole, the wheel installs only `gorilla_rlaif`.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Where each package's source lives (trainers/ and cards/ are installed inside gorilla_rlaif).
SOURCES = {"gorilla_rlaif": ROOT / "gorilla_rlaif", "gorilla_rlaif.trainers": ROOT / "trainers",
           "gorilla_rlaif.cards": ROOT / "cards"}  # fmt: skip

# Layers, lowest first: a module imports only from its own layer or lower ones. Data flows one
# way (data -> generate -> judge -> dataset -> train -> eval -> pipeline), and the CLI is the top.
LAYERS: list[set[str]] = [
    {"", "__version__", "errors"},
    {"provenance", "io", "config", "sidecar"},
    {"artifacts", "data", "models", "llm", "tiny", "harness", "metrics", "testing"},
    {"generate"},
    {"judge"},
    {"publish", "model_card", "cards"},
    {"train", "trainers"},
    {"eval"},
    {"pipeline"},
    {"cli"},
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _modules() -> dict[str, Path]:
    out = {}
    for package, base in SOURCES.items():
        for path in base.rglob("*.py"):
            parts = [p for p in path.relative_to(base).with_suffix("").parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every gorilla_rlaif module `name` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "gorilla_rlaif" or m.startswith("gorilla_rlaif.")} - {name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_area_has_a_layer():
    assert {_area(m) for m in MODULES} <= set(RANK), {_area(m) for m in MODULES} - set(RANK)


def test_no_module_imports_upward():
    upward = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if RANK[_area(target)] > RANK[_area(module)]
    ]
    assert not upward, upward


def test_no_import_cycles():
    """Tarjan's strongly connected components over the module graph (lazy imports included)."""
    graph = {m: {t for t in ts if t in MODULES} for m, ts in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert not cycles, cycles


def test_trainers_do_not_import_the_cli():
    assert not [m for m in MODULES if m.startswith("gorilla_rlaif.trainers") and any(
        t.startswith("gorilla_rlaif.cli") for t in GRAPH[m])]  # fmt: skip


def test_shipped_text_names_no_issue_numbers_or_machine_paths():
    pattern = re.compile(r"\bissue[ -]?#?\d+|/work/|/root/", re.I)
    files = [
        p for base in SOURCES.values() for p in base.rglob("*") if p.suffix in (".py", ".yaml", ".jinja")
    ]
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in files for n, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line)]  # fmt: skip
    assert not hits, hits


# ---- one config path for every command ----------------------------------------------------------------
def _leaf_commands():
    from gorilla_rlaif.cli import BENCH_COMMANDS, RLAIF_COMMANDS, command_of
    from gorilla_rlaif.cli.command import commands_of

    out = []
    for program, table in (("rlaif", RLAIF_COMMANDS), ("bench", BENCH_COMMANDS)):
        for name, module in table.items():
            for path, command in commands_of(command_of(module), (name,)):
                out.append(pytest.param(program, path, command, id=" ".join(path)))
    return out


# command -> (--config FILE content, a KEY=VALUE override, what the config must then hold)
CONFIG_PATHS: dict[tuple[str, ...], tuple[dict[str, Any], str, dict[str, Any]]] = {
    ("data", "info"): ({"failures": True}, "source=bundled", {"failures": True, "source": "bundled"}),
    ("data", "export"): ({"hub": "tf", "output": "{tmp}/o.jsonl"}, "strict=true", {"hub": "tensorflowhub", "strict": True}),
    ("data", "splits"): ({"output_dir": "{tmp}/s", "split": {"seed": 3}}, "split.hub=hf", {"split.seed": 3, "split.hub": "huggingface"}),
    ("tiny-model",): ({"tiny": {"n_layer": 3}}, "force=true", {"tiny.n_layer": 3, "force": True}),
    ("generate",): ({"prompts": "p.jsonl", "output": "{tmp}/c.jsonl", "generation": {"model": "m", "top_k": 5}}, "generation.seed=4", {"generation.top_k": 5, "generation.seed": 4}),
    ("label",): ({"candidates": "c.jsonl", "output": "{tmp}/f.jsonl", "judge": {"hf": {"batch_size": 3}}}, "judge.openai.top_logprobs=2", {"judge.hf.batch_size": 3, "judge.openai.top_logprobs": 2}),
    ("preferences",): ({"feedback": ["f.jsonl"], "output_dir": "{tmp}/d", "version": "1.2.3"}, "margin=2", {"version": "1.2.3", "margin": 2}),
    ("train", "sft"): ({"output_dir": "{tmp}/t", "max_length": 128}, "seed=5", {"max_length": 128, "seed": 5}),
    ("train", "reward"): ({"output_dir": "{tmp}/t", "mode": "classifier"}, "seed=5", {"mode": "classifier", "seed": 5}),
    ("train", "ppo"): ({"output_dir": "{tmp}/t", "kl_coef": 0.2}, "seed=5", {"kl_coef": 0.2, "seed": 5}),
    ("train", "dpo"): ({"output_dir": "{tmp}/t", "beta": 0.3}, "seed=5", {"beta": 0.3, "seed": 5}),
    ("train", "grpo"): ({"output_dir": "{tmp}/t", "rewards": [{"kind": "format"}], "beta": 0.01}, "seed=5", {"beta": 0.01, "seed": 5}),
    ("train", "rloo"): ({"output_dir": "{tmp}/t", "rewards": [{"kind": "format"}], "beta": 0.02}, "seed=5", {"beta": 0.02, "seed": 5}),
    ("judge-report",): ({"feedback": "f.jsonl", "output_dir": "{tmp}/q", "sandbox": "none"}, "bins=5", {"sandbox": None, "bins": 5}),
    ("pipeline",): ({"torch_threads": 1}, "eval.limit=7", {"torch_threads": 1, "eval.limit": 7}),
    ("score",): ({"responses": "r.jsonl", "hub": "torchhub", "seed": 2}, "bootstrap=10", {"seed": 2, "bootstrap": 10}),
    ("exec",): ({"snippets": "s.jsonl", "output": "{tmp}/r.jsonl", "sandbox": {"max_procs": 8}}, "sandbox.timeout_s=3", {"sandbox.max_procs": 8, "sandbox.timeout_s": 3.0}),
    ("eval",): ({"model": "m", "limit": 2}, "sandbox.memory_mb=256", {"limit": 2, "sandbox.memory_mb": 256}),
    ("report",): ({"run_dir": "{tmp}"}, "progress=false", {"run_dir": "{tmp}", "progress": False}),
    ("leaderboard",): ({"output": "{tmp}"}, "show=true", {"output": "{tmp}", "show": True}),
    ("compare",): ({"runs": ["a", "b"]}, "hub=torch", {"runs": ["a", "b"], "hub": "torchhub"}),
    ("card",): ({"model": "org/name", "results": ["r.json"]}, "model_name=x", {"results": ["r.json"], "model_name": "x"}),
    ("world",): ({"action": "info", "parts": ["torchhub"]}, "env_only=true", {"parts": ["torchhub"], "env_only": True}),
    ("serve",): ({"port": 9000, "sandbox": {"backend": "local", "workers": 3}}, "max_pending=5", {"port": 9000, "sandbox.workers": 3, "max_pending": 5}),
}  # fmt: skip


def test_every_command_is_in_the_config_path_table():
    assert {tuple(p.values[1]) for p in _leaf_commands()} == set(CONFIG_PATHS)


@pytest.mark.parametrize(("program", "path", "command"), _leaf_commands())
def test_every_command_takes_config_file_and_key_value(program, path, command, tmp_path):
    """One setting from --config FILE, one as KEY=VALUE: both reach the command's config."""
    from gorilla_rlaif.cli import build_parser
    from gorilla_rlaif.cli.command import build_config

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{tmp}", str(tmp_path))
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    in_file, override, expected = fill(CONFIG_PATHS[tuple(path)])
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(in_file))
    argv = [*path, "--config", str(config_file), override]
    if path[0] == "pipeline":
        argv += ["-o", str(tmp_path / "p")]
    args, extra = build_parser(f"gorilla-{program}").parse_known_args(argv)
    args._positionals = [*(getattr(args, "_positionals", None) or []), *extra]
    config = build_config(command, args)
    for key, value in expected.items():
        got: Any = config
        for part in key.split("."):
            got = got[part] if isinstance(got, dict) else getattr(got, part)
        assert got == value, key


def test_flags_override_the_config_file_and_key_value_overrides_flags(tmp_path):
    from gorilla_rlaif.cli import build_parser, command_of
    from gorilla_rlaif.cli.command import build_config

    config_file = tmp_path / "c.yaml"
    config_file.write_text("sandbox: {timeout_s: 5, memory_mb: 512}\nlimit: 3\n")
    argv = ["eval", "m", "--config", str(config_file), "--exec-timeout", "7", "--limit", "4", "limit=5"]
    args, extra = build_parser("gorilla-bench").parse_known_args(argv)
    args._positionals = [*args._positionals, *extra]
    config = build_config(command_of("gorilla_rlaif.cli.eval"), args)
    assert (config.sandbox.timeout_s, config.sandbox.memory_mb, config.limit) == (7.0, 512, 5)


def test_help_and_defaults_come_from_the_models(capsys):
    from gorilla_rlaif.cli import bench_main
    from gorilla_rlaif.harness.config import SandboxConfig

    assert bench_main(["exec", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    description = " ".join(SandboxConfig.model_fields["max_procs"].description.split())
    assert f"--max-procs MAX_PROCS {description} (default: 64)" in text


# ---- the presets agree ---------------------------------------------------------------------------------
def _flat(data: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_pipeline_training_sections_are_the_trainer_presets(preset):
    """A pipeline section starts from the trainer's preset and lists only what differs: no key of
    the pipeline preset repeats the trainer preset's value, and the resolved sections equal the
    trainer presets plus those differences (and the pipeline's own wiring)."""
    from gorilla_rlaif.config import read_yaml
    from gorilla_rlaif.pipeline import load_pipeline_config, preset_path, resolve
    from gorilla_rlaif.pipeline.config import PRESET_WIRING, TRAINER_SECTIONS
    from gorilla_rlaif.trainers import preset_path as trainer_preset_path

    own = read_yaml(preset_path(preset))
    resolved = resolve(load_pipeline_config(preset), Path("/run"), 0)
    for section in TRAINER_SECTIONS:
        trainer = _flat(read_yaml(trainer_preset_path(section, preset)))
        listed = _flat(own.get(section) or {})
        repeated = {k: v for k, v in listed.items() if trainer.get(k) == v}
        assert not repeated, f"{preset}.{section} repeats the trainer preset: {repeated}"
        config = _flat(getattr(resolved, section).model_dump(mode="json"))
        for key, value in trainer.items():
            if key.split(".")[0] in PRESET_WIRING or ".".join(key.split(".")[:2]) in PRESET_WIRING:
                continue
            expected = listed.get(key, value)
            assert config[key] == expected, f"{preset}.{section}.{key}: {config[key]!r} != {expected!r}"


# ---- shared settings are nested whole ---------------------------------------------------------------
def test_sandbox_and_llm_settings_reach_eval_and_the_grpo_reward_whole():
    """Any SandboxConfig field set on eval or on the execution reward reaches the sandbox as is
    (no field copied by hand, so new fields flow through)."""
    from gorilla_rlaif.eval import EvalConfig
    from gorilla_rlaif.harness.config import SandboxConfig
    from gorilla_rlaif.train.config import ExecutionSpec
    from gorilla_rlaif.train.execution import ExecutionReward

    limits = {"backend": "local", "timeout_s": 12.0, "max_procs": 16, "max_output_kb": 8, "network": True}
    config = EvalConfig(model="m", sandbox=limits, llm={"concurrency": 3, "max_retries": 1})
    sandbox = config.sandbox  # what execute_samples hands to run_snippets, whole
    assert isinstance(sandbox, SandboxConfig)
    assert {k: getattr(sandbox, k) for k in limits} == limits
    assert (config.llm.model, config.llm.concurrency, config.llm.max_retries) == ("m", 3, 1)
    reward = ExecutionReward(ExecutionSpec(sandbox=limits))
    assert {k: getattr(reward.sandbox, k) for k in limits} == limits


def test_operational_fields_do_not_change_what_results_are_keyed_by():
    from gorilla_rlaif.eval import EvalConfig

    base = EvalConfig(model="m", sandbox="local")
    same = EvalConfig(
        model="m", sandbox={"backend": "local", "workers": 1}, generation={"batch_size": 64},
        llm={"concurrency": 2}, output_path="elsewhere", progress=False,
    )  # fmt: skip
    assert same.config_hash == base.config_hash
    for other in ({"sandbox": {"backend": "local", "memory_mb": 512}}, {"generation": {"max_new_tokens": 8}}):
        assert EvalConfig(model="m", **other).config_hash != base.config_hash


# ---- packaging -------------------------------------------------------------------------------------
def test_the_wheel_installs_trainers_and_cards_inside_the_package(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"gorilla_rlaif"}, tops
    assert (
        "gorilla_rlaif/trainers/sft.py" in names and "gorilla_rlaif/trainers/configs/sft_tiny.yaml" in names
    )
    assert "gorilla_rlaif/cards/model_card.md.jinja" in names
