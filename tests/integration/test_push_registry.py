"""``build_image(..., push=True)`` against a real registry on 127.0.0.1.

The registry is Debian's ``docker-registry`` (the CNCF distribution registry, 2.8)
serving plain HTTP on a free loopback port (Docker allows insecure registries on
127.0.0.0/8) with htpasswd (bcrypt) auth and a temporary storage folder; the fixture
stops it and removes the storage. Every image pushed is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests

from paperpack.cli.main import main
from paperpack.errors import ConfigError, EngineError, PaperpackError
from paperpack.image import build_image
from paperpack.image.builder import BuildResult
from paperpack.image.push import push_image
from paperpack.repository.repo import Repo
from tests.conftest import CASES, require
from tests.integration.test_build_docker import base_image, docker  # noqa: F401  (fixture, helper)

pytestmark = pytest.mark.docker

USER, PASSWORD = "paperpack-test", "correct horse battery staple"


class Registry(NamedTuple):
    host: str  # 127.0.0.1:PORT
    url: str
    storage: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    binary, htpasswd = shutil.which("docker-registry"), shutil.which("htpasswd")
    require(binary is not None, "docker-registry is not installed (apt-get install docker-registry)")
    require(htpasswd is not None, "htpasswd is not installed (apt-get install apache2-utils)")
    assert binary and htpasswd
    where = tmp_path_factory.mktemp("registry")
    storage = where / "storage"
    entry = subprocess.run(
        [htpasswd, "-B", "-i", "-n", USER], input=PASSWORD, capture_output=True, text=True, check=True
    ).stdout
    (where / "htpasswd").write_text(entry)
    host = f"127.0.0.1:{free_port()}"
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": host, "secret": os.urandom(16).hex()},
        "auth": {"htpasswd": {"realm": "paperpack-test", "path": str(where / "htpasswd")}},
    }
    (where / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    log = (where / "registry.log").open("w")
    proc = subprocess.Popen([binary, "serve", str(where / "config.yml")], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{host}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/v2/", timeout=2).status_code == 401:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, f"docker-registry exited: {(where / 'registry.log').read_text()}"
            assert time.monotonic() < deadline, "docker-registry did not answer within 30 s"
            time.sleep(0.2)
        yield Registry(host, url, storage)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(where, ignore_errors=True)


def manifest_digest(reg: Registry, name: str, tag: str) -> str:
    accept = ", ".join(
        ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"]
    )
    resp = requests.get(
        f"{reg.url}/v2/{name}/manifests/{tag}", auth=(USER, PASSWORD), timeout=30, headers={"Accept": accept}
    )
    resp.raise_for_status()
    return resp.headers["Docker-Content-Digest"]


def user_docker_config() -> bytes | None:
    """The user's Docker config (``$DOCKER_CONFIG`` or ``~/.docker``, its config.json), or None if absent.

    (buildx keeps its own state beside it, changed by every build: not compared.)
    """
    path = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    return path.read_bytes() if path.is_file() else None


def shim(tmp_path: Path) -> tuple[Path, Path]:
    """A docker client that records ``DOCKER_CONFIG|args`` of each call, then runs the real one."""
    calls, path = tmp_path / "docker-calls", tmp_path / "docker"
    path.write_text(f'#!/bin/sh\necho "${{DOCKER_CONFIG:-}}|$*" >> {calls}\nexec {shutil.which("docker")} "$@"\n')
    path.chmod(0o755)
    return path, calls


@pytest.fixture(scope="module")
def pushed(
    base_image: str,
    registry: Registry,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BuildResult, Path, list[str], list[str]]]:
    """build-dockerfile built as 127.0.0.1:PORT/paper and pushed; yields (result, repo, docker calls, progress)."""
    where = tmp_path_factory.mktemp("push")
    root = where / "build-dockerfile"
    shutil.copytree(CASES / "build-dockerfile", root)
    client, calls = shim(where)
    before = user_docker_config()
    temp_configs = set(Path(tempfile.gettempdir()).glob("paperpack-docker-config-*"))
    lines: list[str] = []
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PAPERPACK_REGISTRY_USERNAME", USER)
            mp.setenv("PAPERPACK_REGISTRY_PASSWORD", PASSWORD)
            mp.setenv("PAPERPACK_DOCKER", str(client))
            result = build_image(
                Repo.open(root), mode="offline", push=True, image_name=f"{registry.host}/paper", progress=lines.append
            )
        assert user_docker_config() == before, "the user's Docker config changed"
        assert set(Path(tempfile.gettempdir()).glob("paperpack-docker-config-*")) == temp_configs
        yield result, root, calls.read_text().splitlines(), lines
    finally:  # every tag of this registry's repository: made here (the port is new), even if the push failed
        made = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"{registry.host}/paper").stdout.split()
        for ref in made:
            docker("image", "rm", ref, check=False)


def test_push_lists_the_tag_with_the_local_digest(
    pushed: tuple[BuildResult, Path, list[str], list[str]], registry: Registry
) -> None:
    result, _, _, lines = pushed
    assert result.pushed and not result.reused
    name, tag = result.image.rsplit(":", 1)
    assert name == f"{registry.host}/paper"
    listed = requests.get(f"{registry.url}/v2/paper/tags/list", auth=(USER, PASSWORD), timeout=30)
    assert listed.status_code == 200 and listed.json() == {"name": "paper", "tags": [tag]}
    assert requests.get(f"{registry.url}/v2/paper/tags/list", timeout=30).status_code == 401  # auth is on
    repo_digest = docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", result.image).stdout.strip()
    remote = manifest_digest(registry, "paper", tag)
    assert remote.startswith("sha256:") and repo_digest == f"{name}@{remote}"
    assert any(f"{tag}: digest: {remote}" in ln for ln in lines), lines[-5:]  # push output reached progress
    assert any((registry.storage / "docker/registry/v2/repositories/paper").iterdir())


def test_login_uses_a_temporary_docker_config(
    pushed: tuple[BuildResult, Path, list[str], list[str]], registry: Registry
) -> None:
    result, _, calls, _ = pushed
    login = [c for c in calls if c.split("|", 1)[1].startswith("login ")]
    push = [c for c in calls if c.split("|", 1)[1].startswith("push ")]
    assert len(login) == 1 and len(push) == 1, calls
    config = login[0].split("|", 1)[0]
    assert push[0] == f"{config}|push {result.image}"
    assert login[0] == f"{config}|login --username {USER} --password-stdin {registry.host}"  # password not in argv
    assert config and Path(config).name.startswith("paperpack-docker-config-") and not Path(config).exists()
    other = [c for c in calls if c.split("|", 1)[0] == config and c not in (login[0], push[0])]
    assert not other, other


def test_wrong_password_is_a_paperpack_error(
    pushed: tuple[BuildResult, Path, list[str], list[str]],
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, root, _, _ = pushed
    before = user_docker_config()
    monkeypatch.setenv("PAPERPACK_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("PAPERPACK_REGISTRY_PASSWORD", "wrong password")
    with pytest.raises(PaperpackError) as info:  # the image exists: reused, then pushed
        build_image(Repo.open(root), mode="offline", push=True, image_name=f"{registry.host}/paper")
    err = info.value
    assert isinstance(err, ConfigError)
    assert "authentication failed" in err.message and registry.host in err.message and "401" in err.message
    assert "PAPERPACK_REGISTRY_PASSWORD" in err.hint and "wrong password" not in err.message + err.hint
    capsys.readouterr()
    code = main(["build", str(root), "--offline", "--no-run", "--image-name", f"{registry.host}/paper", "--push"])
    printed = capsys.readouterr().err
    assert code == 2, printed
    assert "authentication failed" in printed and "hint:" in printed and "Traceback" not in printed
    assert "wrong password" not in printed
    monkeypatch.delenv("PAPERPACK_REGISTRY_USERNAME")
    monkeypatch.delenv("PAPERPACK_REGISTRY_PASSWORD")
    with pytest.raises(ConfigError, match="authentication failed") as info:  # no credentials, no login
        push_image(result.image)
    assert "docker login" in info.value.hint
    assert user_docker_config() == before
    tags = requests.get(f"{registry.url}/v2/paper/tags/list", auth=(USER, PASSWORD), timeout=30).json()
    assert tags["tags"] == [result.image.rsplit(":", 1)[1]]


def test_push_keeps_the_users_docker_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: Registry
) -> None:
    """The temporary config carries the current context over: a context naming a dead socket must fail."""
    require(shutil.which("docker") is not None, "no docker client")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    user_config = tmp_path / "user-docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(user_config))
    dead = tmp_path / "no-daemon.sock"
    docker("context", "create", "paperpack-dead", "--docker", f"host=unix://{dead}")
    docker("context", "use", "paperpack-dead")
    before = user_docker_config()
    monkeypatch.setenv("PAPERPACK_REGISTRY_USERNAME", USER)
    monkeypatch.setenv("PAPERPACK_REGISTRY_PASSWORD", PASSWORD)
    with pytest.raises(EngineError) as info:
        # (the client logs in by itself when the daemon does not answer; the push needs the daemon)
        push_image(f"{registry.host}/paper:never-built")
    assert str(dead) in info.value.message, info.value.message
    assert user_docker_config() == before
