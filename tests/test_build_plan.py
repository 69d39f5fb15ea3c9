"""Offline build planning: runtime.txt → Debian release, environment.yml translation, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.errors import ConfigError
from paperpack.image.environment import plan_offline, translate_environment
from tests.conftest import CASES


def write(root: Path, name: str, text: str) -> Path:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "runtime, release, python",
    [
        ("python-3.9", "bullseye", "3.9"),
        ("python-3.11", "bookworm", "3.11"),
        ("python-3.11.4", "bookworm", "3.11"),
        ("python-3.13-2025-01-01", "trixie", "3.13"),
    ],
)
def test_runtime_maps_to_debian_release(tmp_path: Path, runtime: str, release: str, python: str) -> None:
    write(tmp_path, "runtime.txt", runtime + "\n")
    plan = plan_offline(tmp_path)
    assert (plan.release, plan.python, plan.substitution) == (release, python, None)
    assert plan.source == "runtime.txt"


def test_no_runtime_means_bookworm(tmp_path: Path) -> None:
    plan = plan_offline(tmp_path)
    assert (plan.release, plan.python, plan.source) == ("bookworm", "3.11", "default")


def test_python_without_base_image_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as info:
        plan_offline(CASES / "build-runtime-310")
    err = info.value
    assert "runtime.txt" in err.message and "3.10" in err.message
    assert "3.9 (bullseye)" in err.message and "allow_python_substitution" in err.hint


def test_substitution_when_allowed_is_recorded() -> None:
    plan = plan_offline(CASES / "build-runtime-310", allow_substitution=True)
    assert plan.python in ("3.9", "3.11")
    assert plan.substitution is not None
    assert "3.10" in plan.substitution and plan.python in plan.substitution and "runtime.txt" in plan.substitution


def test_manifest_python_overrides_runtime(tmp_path: Path) -> None:
    write(tmp_path, "runtime.txt", "python-3.9\n")
    plan = plan_offline(tmp_path, python="3.13")
    assert plan.release == "trixie" and "paperpack.yml" in plan.source


def test_binder_folder_wins_over_root(tmp_path: Path) -> None:
    write(tmp_path, "runtime.txt", "python-3.9\n")
    write(tmp_path, "binder/runtime.txt", "python-3.13\n")
    assert plan_offline(tmp_path).release == "trixie"


def test_both_binder_folders_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "binder").mkdir()
    (tmp_path / ".binder").mkdir()
    with pytest.raises(ConfigError, match="both binder/ and .binder/"):
        plan_offline(tmp_path)


def test_unreadable_runtime_names_file_and_value(tmp_path: Path) -> None:
    write(tmp_path, "runtime.txt", "r-4.3-2024-01-01\n")
    with pytest.raises(ConfigError) as info:
        plan_offline(tmp_path)
    assert "runtime.txt" in info.value.message and "r-4.3-2024-01-01" in info.value.message


def test_environment_yml_is_translated() -> None:
    reqs, python = translate_environment(CASES / "build-environment-yml", "environment.yml")
    assert python == "3.11"
    assert reqs == ["numpy==1.26.*", "packaging>=23", "six==1.17.0"]


def test_environment_yml_makes_runtime_ignored(tmp_path: Path) -> None:
    write(tmp_path, "runtime.txt", "python-3.9\n")
    write(tmp_path, "environment.yml", "dependencies:\n  - python=3.13\n  - numpy=2.1.3=py313h1234_0\n")
    plan = plan_offline(tmp_path)
    assert plan.release == "trixie" and plan.requirements == ["numpy==2.1.3"]
    assert plan.environment_yml == "environment.yml"


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("pytorch", "torch"),
        ("matplotlib-base>=3.8", "matplotlib>=3.8"),
        ("scipy 1.11.*", "scipy==1.11.*"),
        ("pandas=2", "pandas==2.*"),
        ("xarray==2024.1.0", "xarray==2024.1.0"),
        ("librosa", "librosa"),
    ],
)
def test_conda_specs_become_pip_requirements(tmp_path: Path, spec: str, expected: str) -> None:
    write(tmp_path, "environment.yml", f"dependencies:\n  - '{spec}'\n")
    assert translate_environment(tmp_path, "environment.yml")[0] == [expected]


def test_conda_only_package_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError) as info:
        plan_offline(CASES / "build-conda-only")
    err = info.value
    assert "'r-base'" in err.message and "conda-only" in err.message and "environment.yml" in err.message
    assert "apt.txt" in err.hint and "r-base" in err.hint


def test_environment_yml_without_dependencies(tmp_path: Path) -> None:
    write(tmp_path, "environment.yml", "name: x\n")
    with pytest.raises(ConfigError, match="no 'dependencies' list"):
        translate_environment(tmp_path, "environment.yml")


def test_substitution_prefers_a_base_image_that_exists(tmp_path: Path) -> None:
    """Issue 9: 3.12 with substitution took trixie (3.13, absent) over bookworm (3.11, present)."""
    write(tmp_path, "runtime.txt", "python-3.12\n")
    plan = plan_offline(tmp_path, allow_substitution=True, present=lambda release: release == "bookworm")
    assert (plan.release, plan.python) == ("bookworm", "3.11")
    assert plan.substitution and "Python 3.12 requested by runtime.txt" in plan.substitution
    assert plan_offline(tmp_path, allow_substitution=True, present=lambda release: True).release == "trixie"
    # an exact match is never substituted, even when its base image is missing (the build says how to make it)
    write(tmp_path, "runtime.txt", "python-3.13\n")
    assert plan_offline(tmp_path, present=lambda release: False).release == "trixie"
