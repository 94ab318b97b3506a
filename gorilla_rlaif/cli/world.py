"""Build or inspect the world sandboxed code runs against (gorilla_rlaif.harness.world).

The execution environment (the libraries APIBench answers import, pinned by
gorilla_rlaif/harness/world/apibench-env.lock) and the offline stand-in world (a tiny model of the
right kind for every API of the three hubs' databases) are built on first use by `exec` and
`eval`; `world build` builds them ahead of time (what `make test` and `make demo` do). Both are
kept under ~/.cache/gorilla-rlaif (GORILLA_RLAIF_CACHE), keyed by the hash of what makes them, so
re-running is instant and a changed lock file or builder rebuilds only what it changes.

Examples:
  gorilla-bench world build                        # environment + every hub's stand-ins
  gorilla-bench world build --part huggingface
  gorilla-bench world info                         # what is built, where, how big, what failed
  gorilla-bench world prune                        # delete builds of other versions (GBs each)
"""

from __future__ import annotations

import argparse
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.cli.command import Command, flag, positional

HELP = "build or inspect the sandbox's execution environment and offline stand-in world"
Part = Literal["huggingface", "tfhub", "torchhub"]


class WorldConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["build", "info", "prune"] = Field(
        description="build (idempotent), show what is built (info), or delete what this version does not use (prune)"
    )
    parts: list[Part] = Field(
        default_factory=lambda: ["huggingface", "tfhub", "torchhub"],
        description="the hubs whose stand-ins to build or show (default: all three)",
    )
    env_only: bool = Field(False, description="only the execution environment")


def run(config: WorldConfig, args: argparse.Namespace) -> int:
    import json

    from gorilla_rlaif.harness.world import PARTS, built_part, ensure_world, fingerprint, part_dir, part_plan
    from gorilla_rlaif.harness.world.env import built_info, ensure_env, env_dir

    parts = tuple(dict.fromkeys(config.parts))
    if config.action == "build":
        env = ensure_env()
        info = built_info(env) or {}
        size = info.get("size_bytes", 0) / 1e9
        print(f"execution environment: {env} ({size:.1f} GB, built in {info.get('build_s')} s)")
        if config.env_only:
            return 0
        world = ensure_world(parts)
        for name, part in world.info.items():
            print(
                f"{name} stand-ins: {part['built']} of {part['items']} built "
                f"({part['failed']} failed): {part['dir']}"
            )
        return 0
    if config.action == "prune":
        from gorilla_rlaif.harness.world import prune

        removed = prune(parts)
        for path, size in removed:
            print(f"removed {path} ({size / 1e9:.2f} GB)")
        print(f"pruned {len(removed)} builds, {sum(s for _, s in removed) / 1e9:.2f} GB freed")
        return 0
    env = env_dir()
    report: dict = {
        "fingerprint": fingerprint()[:16],
        "environment": {"dir": str(env), **(built_info(env) or {"built": False})},
    }
    from gorilla_rlaif.harness.world import HERE

    for name in parts:
        if not (HERE / PARTS[name].builder).exists():
            report[name] = {"built": False, "why": f"no builder ({PARTS[name].builder})"}
            continue
        directory = part_dir(PARTS[name], part_plan(PARTS[name]))
        report[name] = {"dir": str(directory), **(built_part(directory) or {"built": False})}
    print(json.dumps(report, indent=1))
    return 0


COMMAND = Command(
    HELP,
    WorldConfig,
    run,
    flags=[
        positional("action", "ACTION"),
        flag("parts", "--part", append=True),
        flag("env_only", "--env-only", value=True),
    ],
)
