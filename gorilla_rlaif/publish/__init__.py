"""Publish AI feedback as versioned datasets: the stage after `judge`.

`build_dataset(PublishConfig)` writes a Hub-layout directory (three configs as parquet, a card,
provenance); `push_dataset(dir, repo, version)` uploads it and tags the commit. Named `publish`,
not `datasets`, so it never shadows the `datasets` library.
"""

from gorilla_rlaif.publish.build import (
    CONFIGS,
    PublishConfig,
    build_dataset,
    build_tables,
    preference_pairs,
    read_feedback,
    split_prompts,
)
from gorilla_rlaif.publish.hub import push_dataset

__all__ = [
    "CONFIGS",
    "PublishConfig",
    "build_dataset",
    "build_tables",
    "preference_pairs",
    "push_dataset",
    "read_feedback",
    "split_prompts",
]
