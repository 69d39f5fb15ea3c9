"""Base images: the mirror comes from the machine's apt sources; release/Python mapping; mode choice."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.errors import ConfigError, UsageError
from paperpack.image.baseimage import RELEASES, machine_mirror, release_for_python
from paperpack.image.builder import resolve_mode
from paperpack.repository.repo import Repo
from tests.conftest import require


def test_mirror_from_deb822_sources(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example.org/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example.org/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    assert machine_mirror((d, tmp_path / "sources.list")) == (
        "http://mirror.example.org/debian",
        "http://mirror.example.org/debian-security",
    )


def test_mirror_from_one_line_sources(tmp_path: Path) -> None:
    lst = tmp_path / "sources.list"
    lst.write_text(
        "# comment\ndeb-src http://src.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://ftp.example.org/debian bookworm main\n"
    )
    assert machine_mirror((tmp_path / "none.d", lst)) == ("http://ftp.example.org/debian", None)


def test_no_mirror_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        machine_mirror((tmp_path / "none.d", tmp_path / "none.list"))
    assert "--mirror" in info.value.hint


def test_release_for_python() -> None:
    assert [release_for_python(v) for v in RELEASES.values()] == list(RELEASES)
    assert release_for_python("3.10") is None


def test_mode_from_manifest_and_unknown_mode(tmp_path: Path) -> None:
    (tmp_path / "paperpack.yml").write_text("version: 1\nenvironment:\n  mode: offline\n")
    repo = Repo.open(tmp_path)
    assert resolve_mode("auto", repo) == "offline"
    assert resolve_mode("binder", repo) == "binder"
    with pytest.raises(UsageError):
        resolve_mode("conda", repo)


@pytest.mark.docker
def test_base_image_is_reused(docker: str, capsys: pytest.CaptureFixture[str]) -> None:
    present = subprocess.run(["docker", "image", "inspect", "paperpack/base:bookworm"], capture_output=True)
    require(present.returncode == 0, "paperpack/base:bookworm missing (.ci/run makes it)")
    assert main(["base-image", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reused"] is True and out["tag"] == "paperpack/base:bookworm" and out["python"] == "3.11"
    assert out["size"] > 50_000_000 and out["image_id"].startswith("sha256:")


def test_binder_mode_uses_stock_buildpacks(tmp_path: Path, docker: str) -> None:
    from paperpack.image.builder import STOCK_BASE_IMAGE, _plan

    (tmp_path / "requirements.txt").write_text("numpy\n")
    plan = _plan(Repo.open(tmp_path), "binder", None)
    assert plan.mode == "binder" and plan.base_image == STOCK_BASE_IMAGE
    # repo2docker's own buildpacks, in its order; only their ENTRYPOINT line differs (stock_buildpacks)
    from paperpack.image._r2d import Repo2Docker

    stock = Repo2Docker.class_traits()["buildpacks"].default()
    assert plan.buildpacks is not None and len(plan.buildpacks) == len(stock)
    assert all(
        issubclass(ours, theirs) and ours.__name__ == theirs.__name__
        for ours, theirs in zip(plan.buildpacks, stock, strict=True)
    )
    offline = _plan(Repo.open(tmp_path), "offline", None)
    assert [bp.__name__ for bp in offline.buildpacks] == ["DockerBuildPack", "OfflineBuildPack"]
    assert offline.base_image == "paperpack/base:bookworm" and offline.base_id.startswith("sha256:")
