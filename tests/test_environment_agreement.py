"""Validate, the offline build plan and the local engine give one answer about the environment.

Issue 10: each once read the environment files itself, and they disagreed (both ``binder/`` and
``.binder/``: validate used ``.binder/``, the build raised, the local engine used ``binder/``;
validate read ``environment.yaml``, the build ignored it). Every environment fixture, and a few
made here, goes through the three; where repo2docker refuses, all three refuse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import CASES
from paperpack.checks import CheckContext
from paperpack.checks.environment import check as check_environment
from paperpack.errors import PaperpackError
from paperpack.image.environment import plan_offline
from paperpack.repository.repo import Repo
from paperpack.run.venv import choose_python, requirements_file

MADE = {
    "both-binder-folders": {"binder/requirements.txt": "numpy==2.4.6\n", ".binder/runtime.txt": "python-3.13\n"},
    "environment-yaml": {
        "environment.yaml": "dependencies:\n  - python=3.13\n  - six=1.17.0\n",
        "requirements.txt": "numpy==2.4.6\n",
        "runtime.txt": "python-3.9\n",
    },
    "conda-shadows-requirements": {
        "environment.yml": "dependencies:\n  - six=1.17.0\n",
        "requirements.txt": "numpy==2.4.6\n",
    },
    "dockerfile-shadows": {"Dockerfile": "FROM x\n", "requirements.txt": "numpy==2.4.6\n"},
    "binder-wins": {
        "binder/requirements.txt": "numpy==2.4.6\n",
        "requirements.txt": "pandas==2.2.2\n",
        "runtime.txt": "python-3.9\n",
        "binder/runtime.txt": "python-3.13\n",
    },
}


@dataclass
class Answer:
    """One reader's answer: refused, or (requirements.txt installed, Python asked for)."""

    refused: bool
    requirements: str | None = None
    python: str | None = None


def _validate(root: Path) -> Answer:
    repo = Repo.open(root, manifest=False)
    ctx = CheckContext(offline=True)
    findings = list(check_environment(repo, ctx))
    env = ctx.cache["environment"]
    refused = any(f.rule == "ENV002" or (f.rule == "ENV010" and f.path in ("binder", ".binder")) for f in findings)
    requirements = env.path("requirements.txt")
    return Answer(refused, requirements if requirements in env.files else None, env.python_version)


def _build(root: Path) -> Answer:
    """The offline buildpack's own answer; repo2docker creates it inside a chdir to the checkout."""
    from paperpack.image.buildpack import offline_buildpack

    cwd = os.getcwd()
    os.chdir(root)
    try:
        buildpack = offline_buildpack(allow_substitution=True)("paperpack/base:bookworm")
        try:
            plan = buildpack.plan
        except PaperpackError as exc:
            if "binder" in exc.message:
                return Answer(True)
            raise
        return Answer(False, buildpack._requirements()[0], plan.requested)
    finally:
        os.chdir(cwd)


def _local(root: Path) -> Answer:
    try:
        req = requirements_file(root)
    except PaperpackError:
        return Answer(True)
    return Answer(False, req.relative_to(root).as_posix() if req else None, choose_python(root).asked)


def _cases(tmp: Path) -> list[Path]:
    out = sorted(p for p in CASES.iterdir() if p.name.startswith(("env-", "build-", "dep-")))
    for name, files in MADE.items():
        for rel, text in files.items():
            (tmp / name / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name / rel).write_text(text)
        out.append(tmp / name)
    return out


def test_validate_build_and_local_engine_agree(tmp_path: Path) -> None:
    disagreements = []
    checked = 0
    for root in _cases(tmp_path):
        validate, local = _validate(root), _local(root)
        try:
            build = _build(root)
        except PaperpackError:
            build = None  # the offline build refuses for its own reasons (conda-only, no base image): not compared
        if validate.refused or local.refused or (build and build.refused):
            answers = {"validate": validate.refused, "local": local.refused}
            if build is not None:
                answers["build"] = build.refused
            if len(set(answers.values())) != 1:
                disagreements.append((root.name, "refused", answers))
            checked += 1
            continue
        if validate.requirements != local.requirements:
            disagreements.append((root.name, "requirements.txt", validate.requirements, local.requirements))
        if validate.python != local.python:
            disagreements.append((root.name, "python", validate.python, local.python))
        if build is not None and build.requirements != validate.requirements:
            disagreements.append((root.name, "requirements.txt (build)", validate.requirements, build.requirements))
        if build is not None:
            python = validate.python if validate.python and "." in validate.python else None
            if build.python != python:
                disagreements.append((root.name, "python (build)", validate.python, build.python))
        checked += 1
    assert checked >= 40
    assert disagreements == []


def test_both_binder_folders_are_refused_everywhere(tmp_path: Path) -> None:
    root = next(p for p in _cases(tmp_path) if p.name == "both-binder-folders")
    assert _validate(root).refused and _build(root).refused
    with pytest.raises(PaperpackError, match="both binder/ and .binder/"):
        requirements_file(root)


def test_environment_yaml_is_what_the_build_translates(tmp_path: Path) -> None:
    root = next(p for p in _cases(tmp_path) if p.name == "environment-yaml")
    plan = plan_offline(root)
    assert _build(root).requirements is None
    assert plan.environment_yml == "environment.yaml"
    assert (plan.python, plan.requirements) == ("3.13", ["six==1.17.0"])
    assert requirements_file(root) is None  # repo2docker ignores requirements.txt next to it
