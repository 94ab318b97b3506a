"""Push a dataset directory to the Hugging Face Hub as one commit, tagged `vX.Y.Z`.

`huggingface_hub.HfApi` does the work: `create_repo` (exist_ok), `upload_folder` (one commit;
old shards of the three configs that this release does not contain are deleted in the same
commit) and `create_tag` on that commit, so `load_dataset(REPO, "preferences", revision="v0.1.0")`
always returns exactly this release. An existing tag is never moved: publishing the same version
twice is an error. The token comes from `token=`, `HF_TOKEN` or the login file (huggingface_hub's
own lookup) and is scrubbed from any error we raise.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import ConfigError, GorillaRlaifError
from gorilla_rlaif.llm import redact

log = logging.getLogger(__name__)


def push_dataset(
    directory: str | Path,
    repo_id: str,
    version: str,
    *,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = False,
) -> dict[str, Any]:
    """Upload `directory` to the dataset repo `repo_id` and tag the commit `v{version}`."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    directory = Path(directory)
    if not (directory / "README.md").exists():
        raise ConfigError(f"{directory} is not a dataset directory (no README.md): build it first")
    tag = f"v{version.removeprefix('v')}"
    api = HfApi(endpoint=endpoint, token=token)
    secrets = [token]
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        refs = api.list_repo_refs(repo_id, repo_type="dataset")
        if any(t.name == tag for t in refs.tags):
            raise GorillaRlaifError(
                f"{repo_id} already has a release {tag}: versions are immutable, bump --version"
            )
        commit = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(directory),
            commit_message=f"Release {tag}",
            commit_description="Built with gorilla-rlaif (see gorilla_rlaif.meta.json).",
            delete_patterns=["preferences/*", "binary/*", "feedback/*"],
        )
        api.create_tag(
            repo_id, tag=tag, revision=commit.oid, repo_type="dataset", tag_message=f"Release {tag}"
        )
    except OfflineModeIsEnabled:
        raise GorillaRlaifError("HF_HUB_OFFLINE is set: unset it to push to the Hub") from None
    except (HfHubHTTPError, ValueError) as exc:  # ValueError: the Hub rejected the card's metadata
        raise GorillaRlaifError(redact(f"pushing to {repo_id} failed: {exc}", secrets)) from None
    log.info("pushed %s as %s (commit %s)", repo_id, tag, commit.oid)
    return {"repo_id": repo_id, "url": str(url), "commit": commit.oid, "tag": tag}
