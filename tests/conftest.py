"""Shared fixtures. Tests run offline: any Hub download would fail here, so we say so up front."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    """The default tiny model, built once per test session (≈6 s)."""
    from gorilla_rlaif.tiny import build_tiny_model

    return build_tiny_model(cache_dir=tmp_path_factory.mktemp("tiny-cache"))
