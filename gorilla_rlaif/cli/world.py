"""Build or inspect the world sandboxed code runs against (gorilla_rlaif.harness.world).

The execution environment (the libraries APIBench answers import, pinned by
gorilla_rlaif/harness/world/apibench-env.lock) and the offline stand-in world (a tiny model of the
right kind for every API of the three hubs' databases) are built on first use by `exec` and
`eval`; `world build` builds them ahead of time (what `make test` and `make demo` do). Both are
kept under ~/.cache/gorilla-rlaif (GORILLA_RLAIF_CACHE), keyed by the hash of what makes them, so
re-running is instant and a changed lock file or builder rebuilds only what it changes.

Examples:
  gorilla-bench world build                 # environment + every hub's stand-ins
  gorilla-bench world build --part huggingface
  gorilla-bench world info                  # what is built, where, how big, what failed
"""

from __future__ import annotations

import argparse

HELP = "build or inspect the sandbox's execution environment and offline stand-in world"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("build", "info"), help="build (idempotent) or show what is built")
    parser.add_argument(
        "--part",
        action="append",
        choices=("huggingface", "tfhub", "torchhub"),
        help="only these hubs' stand-ins (repeatable; default: all)",
    )
    parser.add_argument("--env-only", action="store_true", help="only the execution environment")


def run(args: argparse.Namespace) -> int:
    import json

    from gorilla_rlaif.harness.world import PARTS, built_part, ensure_world, fingerprint, part_dir, part_plan
    from gorilla_rlaif.harness.world.env import built_info, ensure_env, env_dir

    parts = tuple(args.part or PARTS)
    if args.action == "build":
        env = ensure_env()
        info = built_info(env) or {}
        print(
            f"execution environment: {env} ({info.get('size_bytes', 0) / 1e9:.1f} GB, built in {info.get('build_s')} s)"
        )
        if args.env_only:
            return 0
        world = ensure_world(parts)
        for name, part in world.info.items():
            print(
                f"{name} stand-ins: {part['built']} of {part['items']} built ({part['failed']} failed): {part['dir']}"
            )
        return 0
    env = env_dir()
    report: dict = {
        "fingerprint": fingerprint()[:16],
        "environment": {"dir": str(env), **(built_info(env) or {"built": False})},
    }
    for name in parts:
        directory = part_dir(PARTS[name], part_plan(PARTS[name]))
        report[name] = {"dir": str(directory), **(built_part(directory) or {"built": False})}
    print(json.dumps(report, indent=1))
    return 0
