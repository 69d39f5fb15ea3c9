"""ENV rules called through the library: messages, fixes, severities and the shared cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.checks import CheckContext
from paperpack.checks.environment import check
from paperpack.checks.findings import Finding
from paperpack.environment import Environment
from paperpack.repository.repo import Repo


def _run(root: Path, files: dict[str, str]) -> tuple[list[Finding], CheckContext]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    ctx = CheckContext(offline=True)
    return list(check(Repo.open(root, manifest=False), ctx)), ctx


def test_environment_is_shared_through_the_cache(tmp_path: Path) -> None:
    findings, ctx = _run(tmp_path, {"requirements.txt": "numpy==2.4.6\n", "runtime.txt": "python-3.11\n"})
    assert findings == []
    env = ctx.cache["environment"]
    assert isinstance(env, Environment) and env.requirements[0].name == "numpy"
    again, _ = list(check(Repo.open(tmp_path, manifest=False), ctx)), None
    assert again == [] and ctx.cache["environment"] is env


def test_ignored_empty_file_is_info_but_with_packages_a_warning(tmp_path: Path) -> None:
    findings, _ = _run(
        tmp_path,
        {
            "environment.yml": "dependencies:\n  - numpy=2.4.6\n",
            "requirements.txt": "# nothing yet\n",
            "runtime.txt": "python-3.11\n",
        },
    )
    by_path = {f.path: f for f in findings if f.rule == "ENV003"}
    assert by_path["requirements.txt"].severity.value == "info"
    assert "(it is empty)" in by_path["requirements.txt"].message
    assert by_path["runtime.txt"].severity.value == "warning"
    assert "environment.yml exists, so repo2docker uses conda and ignores runtime.txt" in by_path["runtime.txt"].message
    assert by_path["runtime.txt"].fix == "move what runtime.txt declares into environment.yml, then delete runtime.txt"


@pytest.mark.parametrize(
    ("script", "flagged"),
    [
        ("#!/bin/bash\npip install x\n", True),
        ("#!/bin/bash\nset -euo pipefail\npip install x\n", False),
        ("#!/bin/bash -e\npip install x\n", False),
        ("#!/bin/sh\nset -o errexit\n", False),
        ("#!/usr/bin/env python3\nprint('hi')\n", False),
        ("#!/usr/bin/env bash\npip install x\n", True),
        ("pip install x\n", True),
        ("#!/opt/conda/bin/python\nimport os\n", False),
    ],
)
def test_postbuild_set_e(tmp_path: Path, script: str, flagged: bool) -> None:
    findings, _ = _run(
        tmp_path, {"requirements.txt": "numpy==2.4.6\n", "runtime.txt": "python-3.11\n", "postBuild": script}
    )
    env005 = [f for f in findings if f.rule == "ENV005"]
    assert bool(env005) is flagged, findings
    if flagged:
        assert env005[0].line == 1 and "set -e" in env005[0].fix


def test_conda_export_is_one_finding_naming_the_count(tmp_path: Path) -> None:
    findings, _ = _run(
        tmp_path,
        {
            "environment.yml": "dependencies:\n  - numpy=1.26.4=py311h64a7726_0\n"
            "  - scipy=1.13.1=py311h517d4fd_0\n  - six=1.16.0=pyh6c4a22f_0\n"
        },
    )
    (f,) = [f for f in findings if f.rule == "ENV006"]
    assert f.line == 2 and "(and 2 more)" in f.message and "--from-history" in f.fix
    assert not [f for f in findings if f.rule == "ENV007"]


@pytest.mark.parametrize(
    ("runtime", "rule", "words"),
    [
        ("python-2.7", "ENV009", "Python 2.7 is Python 2"),
        ("python-3.4", "ENV008", "Python 3.4 is not supported by repo2docker (supported: 3.8, "),
        ("python-3.15", "ENV008", "Python 3.15 is not supported by repo2docker"),
        ("python-3.x", "ENV008", "'3.x' is not a Python version"),
        ("python 3.11", "ENV008", "is not of the form python-3.11"),
    ],
)
def test_bad_python(tmp_path: Path, runtime: str, rule: str, words: str) -> None:
    findings, _ = _run(tmp_path, {"requirements.txt": "numpy==2.4.6\n", "runtime.txt": runtime + "\n"})
    hits = [f for f in findings if f.rule == rule]
    assert hits and words in hits[0].message and hits[0].path == "runtime.txt" and hits[0].line == 1
    assert hits[0].severity.value == "error"


def test_legacy_python_is_a_warning(tmp_path: Path) -> None:
    findings, _ = _run(tmp_path, {"requirements.txt": "numpy==1.21.6\n", "runtime.txt": "python-3.7\n"})
    assert [(f.rule, f.severity.value, f.line) for f in findings] == [("ENV013", "warning", 1)]


def test_python_from_environment_yml_is_checked_too(tmp_path: Path) -> None:
    findings, _ = _run(tmp_path, {"environment.yml": "dependencies:\n  - python=2.7\n  - numpy=1.16.6\n"})
    assert [(f.rule, f.path) for f in findings if f.rule == "ENV009"] == [("ENV009", "environment.yml")]


def test_unpinned_fix_speaks_the_files_language(tmp_path: Path) -> None:
    findings, _ = _run(
        tmp_path, {"environment.yml": "dependencies:\n  - python=3.11\n  - xarray\n  - pip:\n    - pooch\n"}
    )
    fixes = {f.message.split()[0]: f.fix for f in findings if f.rule == "ENV007"}
    assert fixes["xarray"].startswith("pin it, e.g. `xarray=1.2.3`")
    assert fixes["pooch"].startswith("pin it, e.g. `pooch==1.2.3`")


def test_default_python_is_said(tmp_path: Path) -> None:
    findings, _ = _run(tmp_path, {"requirements.txt": "numpy==2.4.6\n"})
    assert [(f.rule, f.severity.value) for f in findings] == [("ENV012", "info")]


def test_symlink_out_of_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "outside.txt").write_text("numpy==2.4.6\n")
    (repo / "requirements.txt").symlink_to(tmp_path / "outside.txt")
    findings, _ = _run(repo, {})
    assert {(f.rule, f.path) for f in findings} >= {("ENV010", "requirements.txt"), ("ENV001", None)}


def test_ignored_file_named_in_postbuild_is_only_info(tmp_path: Path) -> None:
    findings, _ = _run(
        tmp_path,
        {
            "environment.yml": "dependencies:\n  - numpy=2.4.6\n",
            "requirements.txt": "scipy==1.17.1\n",
            "postBuild": "#!/bin/bash\nset -e\npip install -r requirements.txt\n",
        },
    )
    (f,) = [f for f in findings if f.rule == "ENV003"]
    assert f.severity.value == "info" and "postBuild names it" in f.message


@pytest.mark.parametrize(
    "mode, says, not_says",
    [
        ("offline", "offline build uses Debian bookworm's Python 3.11", "3.10"),
        ("binder", "Python 3.10 today", "3.11"),
        (None, "the two can differ", None),
    ],
)
def test_default_python_names_what_the_build_mode_uses(
    tmp_path: Path, mode: str | None, says: str, not_says: str | None
) -> None:
    files = {"requirements.txt": "numpy==2.4.6\n"}
    if mode:
        files["paperpack.yml"] = f"version: 1\nenvironment:\n  mode: {mode}\n"
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    findings = list(check(Repo.open(tmp_path), CheckContext(offline=True)))
    messages = [f.message for f in findings if f.rule == "ENV012"]
    assert len(messages) == 1 and says in messages[0], messages
    assert not_says is None or not_says not in messages[0], messages


@pytest.mark.parametrize(
    "line, pinned",
    [
        ("numpy==1.26.*", True),
        ("numpy==1.26.4", True),
        ("numpy==1.*", False),
        ("numpy>=1.26", False),
        ("numpy", False),
    ],
)
def test_a_release_line_wildcard_is_a_pin(tmp_path: Path, line: str, pinned: bool) -> None:
    findings, _ = _run(tmp_path, {"requirements.txt": line + "\n", "runtime.txt": "python-3.11\n"})
    assert any(f.rule == "ENV007" for f in findings) is not pinned, [f.message for f in findings]


@pytest.mark.parametrize(
    "dep, pinned",
    [("numpy=1.26", True), ("numpy=1.26.*", True), ("numpy=1.*", False), ("numpy==1.26.*", True), ("numpy", False)],
)
def test_a_conda_release_line_is_a_pin(tmp_path: Path, dep: str, pinned: bool) -> None:
    findings, _ = _run(tmp_path, {"environment.yml": f"dependencies:\n  - python=3.11\n  - {dep}\n"})
    assert any(f.rule == "ENV007" for f in findings) is not pinned, [f.message for f in findings]
