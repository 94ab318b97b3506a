"""`python -m gorilla_rlaif.cli {rlaif,bench} ...` (same as the console scripts)."""

import sys

from gorilla_rlaif.cli import bench_main, rlaif_main

if __name__ == "__main__":
    program = sys.argv[1] if len(sys.argv) > 1 else ""
    if program not in ("rlaif", "bench"):
        sys.exit("usage: python -m gorilla_rlaif.cli {rlaif,bench} COMMAND ...")
    sys.exit((rlaif_main if program == "rlaif" else bench_main)(sys.argv[2:]))
