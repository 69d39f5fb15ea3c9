"""``paperpack clean``: real small images made here (labelled as paperpack labels its own, and one not),
real cache folders; only what paperpack made is listed and removed (issue 15).

Every image command is narrowed to this test's own image names (``--image-name``): the
daemon is shared, and other images carrying paperpack's labels are not this test's.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperpack.cli.main import main
from paperpack.machine.clean import Item, Kind, remove
from paperpack.run.venv import choose_python, venv_dir
from paperpack.util.docker import docker_cli, image_id
from tests.conftest import CASES


def _tiny_image(tag: str, *labels: str) -> None:
    """A one-file image made with ``docker import`` (no registry, no base image), with these labels."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    args = [docker_cli(), "import"]
    for label in labels:
        args += ["--change", f"LABEL {label}"]
    subprocess.run([*args, "-", tag], input=data.getvalue(), check=True, capture_output=True, timeout=120)


@pytest.fixture
def images(docker: str) -> Iterator[dict[str, str]]:
    prefix = f"paperpack-test-clean-{uuid.uuid4().hex[:10]}/"
    made = {"built": f"{prefix}paper:abc", "base": f"{prefix}base:bookworm", "other": f"{prefix}not-ours:1"}
    _tiny_image(made["built"], "io.paperpack.version=0.0-test", "io.paperpack.mode=offline")
    _tiny_image(made["base"], "io.paperpack.base.release=bookworm")
    _tiny_image(made["other"], "org.example.made-by=someone-else")
    try:
        yield {"prefix": prefix, **made}
    finally:
        subprocess.run(
            [docker_cli(), "image", "rm", "-f", *made.values()], capture_output=True, timeout=120, check=False
        )


def _clean(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["clean", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.docker
def test_images_listed_then_removed_only_paperpacks(images: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _clean(capsys, "--images", "--image-name", images["prefix"], "--dry-run")
    listed = {item["ref"]: item for item in doc["items"]}
    assert code == 0 and set(listed) == {images["built"], images["base"]}, listed
    assert listed[images["built"]]["what"] == "built image" and listed[images["base"]]["what"] == "base image"
    assert all(item["size"] > 0 and not item["removed"] for item in listed.values())
    assert all(image_id(images[k]) for k in ("built", "base", "other")), "--dry-run removes nothing"

    code, doc = _clean(capsys, "--images", "--image-name", images["prefix"])
    assert code == 0 and all(item["removed"] for item in doc["items"]), doc
    assert image_id(images["built"]) is None and image_id(images["base"]) is None
    assert image_id(images["other"]) is not None, "an image paperpack did not make is never removed"


@pytest.mark.docker
def test_remove_refuses_an_image_paperpack_did_not_make(images: dict[str, str]) -> None:
    """Even handed one directly, remove() checks the labels again."""
    from datetime import datetime, timezone

    outcome = remove([Item(Kind.IMAGE, images["other"], 1, datetime.now(timezone.utc))])
    assert not outcome.removed and outcome.failed[0][1] == "not made by paperpack: left alone"
    assert image_id(images["other"]) is not None


@pytest.mark.docker
def test_an_image_a_container_uses_is_kept(images: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    name = f"paperpack-test-clean-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [docker_cli(), "create", "--name", name, images["built"], "/hello.txt"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        code, doc = _clean(capsys, "--images", "--image-name", images["built"])
        assert code == 1 and doc["items"][0]["error"] and not doc["items"][0]["removed"], doc
        assert image_id(images["built"]) is not None
    finally:
        subprocess.run([docker_cli(), "rm", "-f", name], capture_output=True, timeout=120, check=False)


def _folder(path: Path, size: int, days_old: float = 0) -> None:
    path.mkdir(parents=True)
    (path / "payload").write_bytes(b"z" * size)
    when = time.time() - days_old * 86400
    os.utime(path, (when, when))


def test_environments_and_caches_by_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    _folder(cache / "venvs" / "old", 3000, days_old=40)
    _folder(cache / "venvs" / "new", 2000)
    _folder(cache / "doi" / "ab", 700, days_old=40)
    _folder(cache / "build-logs" / "x", 100)
    code, doc = _clean(capsys, "--envs", "--caches", "--older-than", "30", "--cache-dir", str(cache), "--dry-run")
    assert code == 0 and {(i["ref"], i["size"]) for i in doc["items"]} == {
        (str(cache / "venvs" / "old"), 3000),
        (str(cache / "doi" / "ab"), 700),
    }, doc
    assert doc["size"] == 3700 and (cache / "venvs" / "old").is_dir()

    main(["clean", "--envs", "--older-than", "30", "--cache-dir", str(cache)])
    text = " ".join(capsys.readouterr().out.split())
    assert "1 item(s); freed 3.0 kB" in text, text
    assert not (cache / "venvs" / "old").exists() and (cache / "venvs" / "new").is_dir()
    assert (cache / "doi" / "ab").is_dir(), "--envs leaves the caches"


def test_unused_by_keeps_the_repositorys_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(cache))
    monkeypatch.setenv("PAPERPACK_DOCKER", str(tmp_path / "no-docker"))  # environments only: no daemon needed
    repo = CASES / "run-image-found"
    used = venv_dir(repo, choose_python(repo))
    _folder(used, 10)
    _folder(cache / "venvs" / "someone-elses", 20)
    code, doc = _clean(capsys, "--envs", "--unused-by", str(repo))
    assert code == 0 and [i["ref"] for i in doc["items"]] == [str(cache / "venvs" / "someone-elses")], doc
    assert used.is_dir() and not (cache / "venvs" / "someone-elses").exists()


def test_bad_age_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", "--older-than", "last tuesday", "--dry-run"]) == 2
    assert "error: --older-than: expected a date such as 2026-11-01 or a number of days" in capsys.readouterr().err


def test_unused_by_keeps_the_data_cache_of_a_repository_that_declares_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    cache = tmp_path / "cache"
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(cache))
    monkeypatch.setenv("PAPERPACK_DOCKER", str(tmp_path / "no-docker"))
    _folder(cache / "data" / "sha256", 50)
    with_data = tmp_path / "with-data"
    shutil.copytree(CASES / "run-image-found", with_data)
    (with_data / "paperpack.yml").write_text(
        "version: 1\ndata:\n  - url: http://127.0.0.1:9/x.csv\n    files:\n      - path: data/x.csv\n"
        f"        sha256: {'a' * 64}\n"
    )
    code, doc = _clean(capsys, "--caches", "--unused-by", str(with_data), "--dry-run")
    assert code == 0 and doc["items"] == [], doc
    code, doc = _clean(capsys, "--caches", "--unused-by", str(CASES / "run-image-found"), "--dry-run")
    assert [(i["ref"], i["what"], i["size"]) for i in doc["items"]] == [(str(cache / "data"), "fetched data", 50)]
