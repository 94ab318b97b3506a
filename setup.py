"""The package list (everything else is in pyproject.toml): the discovered `gorilla_rlaif`
packages plus the repository's `trainers/` and `cards/` folders, installed as
`gorilla_rlaif.trainers` and `gorilla_rlaif.cards` (see `[tool.setuptools.package-dir]`)."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["gorilla_rlaif", "gorilla_rlaif.*"]),
        "gorilla_rlaif.trainers",
        "gorilla_rlaif.cards",
    ]
)
