"""Sandbox backends: an explicit table, each module imported only when chosen."""

from __future__ import annotations

import importlib

from gorilla_rlaif.harness.backends.base import (
    Backend,
    BatchBackend,
    SandboxUnavailable,
    Worker,
    WorkerBroken,
)
from gorilla_rlaif.harness.config import SandboxConfig

BACKENDS: dict[str, str] = {
    "local": "gorilla_rlaif.harness.backends.local:LocalBackend",
    "docker": "gorilla_rlaif.harness.backends.docker:DockerBackend",
    "remote": "gorilla_rlaif.harness.backends.remote:RemoteBackend",
    "ray": "gorilla_rlaif.harness.backends.raycluster:RayBackend",
}

__all__ = [
    "BACKENDS",
    "Backend",
    "BatchBackend",
    "SandboxUnavailable",
    "Worker",
    "WorkerBroken",
    "load_backend",
]


def load_backend(config: SandboxConfig) -> BatchBackend:
    module_name, _, class_name = BACKENDS[config.backend].partition(":")
    return getattr(importlib.import_module(module_name), class_name)(config)
