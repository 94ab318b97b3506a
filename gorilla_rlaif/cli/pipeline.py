"""Run the whole method end to end: data, SFT, candidates, judge, dataset, RM, PPO, DPO, eval, report.

Stages (each skipped when its outputs exist and its inputs are unchanged; an interrupted stage
resumes where it stopped; deleting one stage's output re-runs it and everything downstream):

  data      split APIBench into sft / rm / rl / test           DIR/data/splits/
  base      (tiny) build the tiny base model                   DIR/models/base/
  sft       supervised fine-tuning                             DIR/models/sft/
  generate  K candidates per reward-model prompt               DIR/feedback/candidates.jsonl
  label     the judge's eight yes/no answers per candidate     DIR/feedback/feedback.jsonl
  publish   versioned preference dataset (load_dataset-able)   DIR/dataset/
  reward    reward model                                       DIR/models/reward/
  ppo, dpo  PPO / DPO from the SFT model                       DIR/models/{ppo,dpo}/
  eval-*    gorilla-bench eval of SFT, PPO, DPO (sandboxed)    DIR/eval/
  report    table (paper's columns) + plot, model cards        DIR/report/

DIR/pipeline.json records each stage's status, time, input/output hashes and versions;
DIR/SUMMARY.md says where everything is.

examples:
  gorilla-rlaif pipeline --preset tiny --output-dir demo-output          # offline, 2 CPU cores, < 20 min
  gorilla-rlaif pipeline --preset tiny -o runs/t --judge openai:gpt-4o-mini --base-url http://localhost:8000/v1
  gorilla-rlaif pipeline --preset paper -o runs/paper --push-to-hub me/gorilla-feedback     # GPU machine
  gorilla-rlaif pipeline --preset tiny -o runs/t sft.max_steps=200 generate.num_candidates=8 eval.limit=50
  gorilla-rlaif pipeline --preset tiny -o runs/t --dry-run                # what would run, and why
  gorilla-rlaif pipeline --preset tiny -o runs/t --until publish          # stop after the dataset
"""

from __future__ import annotations

import argparse

from gorilla_rlaif.cli.command import Command, flag
from gorilla_rlaif.pipeline.config import PipelineConfig

HELP = "run the whole method end to end (resumable): SFT -> judge -> dataset -> RM -> PPO/DPO -> eval"


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=("tiny", "paper"), default="tiny", help="default: tiny")
    parser.add_argument("--output-dir", "-o", required=True, help="where every artifact goes")
    parser.add_argument("--until", metavar="STAGE", help="stop after this stage")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and the plan only")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _preset(args: argparse.Namespace) -> dict:
    from gorilla_rlaif.pipeline import preset_data

    return preset_data(args.preset)


def run(config: PipelineConfig, args: argparse.Namespace) -> int:
    import yaml

    from gorilla_rlaif.io import check_output
    from gorilla_rlaif.pipeline import layout, make_pipeline, run_pipeline

    pipeline = make_pipeline(config, args.output_dir, progress=False)
    pipeline.check_until(args.until)
    if args.dry_run:
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False).rstrip())
        plan = pipeline.plan(until=args.until)
        print(f"\nplan for {pipeline.directory}:")
        for k, decision in enumerate(plan, start=1):
            verb = "run " if decision.run else "skip"
            print(f"  [{k:2d}/{len(plan)}] {verb} {decision.stage.name:<9} {decision.reason}")
        return 0

    check_output(args.output_dir, "dir")
    manifest = run_pipeline(config, args.output_dir, progress=not args.no_progress, until=args.until)
    paths = layout(pipeline.directory)
    last = manifest["runs"][-1]
    print(
        f"\npipeline {manifest['pipeline']['status']}: {len(last['ran'])} stage(s) ran, "
        f"{len(last['skipped'])} up to date"
    )
    print(f"{'stage':<10} {'this run':<9} {'time':>9}  output")
    for name in manifest["pipeline"]["stage_order"]:
        record = manifest["stages"].get(name, {})
        if name in last["ran"]:
            state = "ran"
        elif name in last["skipped"]:
            state = "skipped"
        else:
            state = "not run"
        duration = record.get("duration_s")
        took = f"{duration:.1f} s" if duration is not None and state != "not run" else "-"
        output = (record.get("outputs") or ["-"])[0] if state != "not run" else "-"
        print(f"{name:<10} {state:<9} {took:>9}  {output}")
    report = paths["report"] / "comparison.md"
    if report.exists():
        print("\n" + report.read_text(encoding="utf-8").strip())
    print(f"\nsummary: {paths['summary']}\nmanifest: {paths['manifest']}")
    return 0


COMMAND = Command(
    HELP,
    PipelineConfig,
    run,
    flags=[
        flag("judge.judge", "--judge"),
        flag("judge.openai.llm.base_url", "--base-url", help="OpenAI-compatible server for the judge"),
        flag("publish.push_to_hub", "--push-to-hub", metavar="REPO", help="push the preference dataset"),
    ],
    extra=_extra,
    preset=_preset,
)
