"""Real builds with a real Docker daemon: offline mode end to end.

Builds ``sample_paper`` and the ``tests/cases/build-*`` repositories, then checks inside
each image (``docker run --rm --network none``). Every image a test makes is removed
by the ``images`` finalizer; the base image is kept (it is shared and slow to make).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.errors import BuildError
from paperpack.image import build_image, ensure_base_image, export_image
from paperpack.image.baseimage import base_image_tag
from paperpack.image.builder import BuildResult
from paperpack.repository.repo import Repo
from tests.conftest import CASES, SAMPLE, require

pytestmark = pytest.mark.docker

SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=600)


def in_image(image: str, code: str) -> dict:  # type: ignore[type-arg]
    """Run Python in the image through its own entrypoint (login shell, venv on PATH), no network."""
    out = docker(
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "python",
        "-c",
        f"import json\n{code}\nprint('RESULT ' + json.dumps(result))",
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def base_image(docker: str) -> str:
    tag = base_image_tag("bookworm")
    if docker_image_exists(tag):
        return tag
    require(
        os.geteuid() == 0 and shutil.which("debootstrap") is not None,
        f"{tag} is missing and cannot be made here (needs root and debootstrap): run `paperpack base-image`",
    )
    return ensure_base_image("bookworm").tag


def docker_image_exists(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


@pytest.fixture(scope="module")
def images() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for tag in made:
        docker("image", "rm", tag, check=False)


@pytest.fixture(scope="module")
def marked_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """The machine's CA bundle plus a unique marker line (text outside PEM blocks is ignored)."""
    require(SYSTEM_CA.is_file(), f"{SYSTEM_CA} (the proxy's CA bundle) is missing")
    marker = f"paperpack-ca-marker-{uuid.uuid4().hex}".encode()
    path = tmp_path_factory.mktemp("ca") / "bundle.pem"
    path.write_bytes(b"# " + marker + b"\n" + SYSTEM_CA.read_bytes())
    return path, marker


def build_case(src: Path, dest_parent: Path, images: list[str], **kwargs: object) -> BuildResult:
    root = dest_parent / src.name
    shutil.copytree(src, root, symlinks=True)
    # force: an image with the same content tag may already be on this machine (a user's
    # `paperpack build`, an earlier CI run); these tests are about building, not reusing.
    kwargs.setdefault("force", True)
    result = build_image(Repo.open(root), mode="offline", **kwargs)  # type: ignore[arg-type]
    images.append(result.image)
    return result


@pytest.fixture(scope="module")
def sample(
    base_image: str, images: list[str], marked_ca: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuildResult, Path]:
    require(SAMPLE.is_dir(), "sample_paper/ is missing")
    where = tmp_path_factory.mktemp("sample")
    lines: list[str] = []
    result = build_case(SAMPLE, where, images, ca_bundle=marked_ca[0], progress=lines.append)
    assert lines, "the progress callback saw no build output"
    return result, where / SAMPLE.name


def test_sample_paper_packages_and_python(sample: tuple[BuildResult, Path]) -> None:
    result, root = sample
    assert not result.reused and result.mode == "offline" and result.python_version == "3.11"
    pins = dict(ln.split("==") for ln in (root / "requirements.txt").read_text().split() if "==" in ln)
    got = in_image(
        result.image,
        "import sys, os, pwd, importlib.metadata as md\n"
        f"result = {{'python': '%d.%d' % sys.version_info[:2], 'uid': os.getuid(), "
        f"'user': pwd.getpwuid(os.getuid()).pw_name, 'exe': sys.executable, "
        f"'versions': {{n: md.version(n) for n in {sorted(pins)!r}}}}}",
    )
    assert got["python"] == "3.11"
    assert got["versions"] == pins
    assert got["uid"] == 1000 and got["user"] == "jovyan"  # non-root
    assert got["exe"].startswith("/srv/venv/")


def test_sample_paper_labels(sample: tuple[BuildResult, Path], base_image: str) -> None:
    result, _ = sample
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", result.image).stdout)
    # the creation time is left out: another test of this module rebuilds the same tag with --force
    created = "org.opencontainers.image.created"
    assert {k: v for k, v in labels.items() if k != created} == {k: v for k, v in result.labels.items() if k != created}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", labels[created])
    base_id = docker("image", "inspect", "--format", "{{.Id}}", base_image).stdout.strip()
    assert labels["io.paperpack.base-image-id"] == base_id
    assert labels["io.paperpack.mode"] == "offline" and labels["io.paperpack.python"] == "3.11"
    assert labels["io.paperpack.repo2docker-version"] == "2026.4.0"
    assert labels["io.paperpack.content-hash"].startswith(result.image.rsplit(":", 1)[1])
    assert labels["org.opencontainers.image.created"]
    assert labels["io.paperpack.paper-doi"].startswith("10.1175/")


def test_ca_bundle_is_in_no_layer(
    sample: tuple[BuildResult, Path], marked_ca: tuple[Path, bytes], tmp_path: Path
) -> None:
    result, _ = sample
    _, marker = marked_ca
    first_cert = SYSTEM_CA.read_bytes().split(b"-----END CERTIFICATE-----")[0][-200:]
    archive = tmp_path / "image.tar"
    docker("save", "-o", str(archive), result.image)
    layers = 0
    secrets: list[str] = []
    with tarfile.open(archive) as outer:
        for member in outer:
            if not member.name.endswith("layer.tar"):
                continue
            layers += 1
            f = outer.extractfile(member)
            assert f is not None
            with tarfile.open(fileobj=f, mode="r|") as layer:
                for entry in layer:
                    if entry.name.startswith("run/secrets"):  # BuildKit leaves the empty mount point
                        secrets.append(entry.name)
                        assert entry.isdir() or entry.size == 0, f"{entry.name} has content in {member.name}"
                    if entry.isfile() and entry.size:
                        data = layer.extractfile(entry).read()  # type: ignore[union-attr]
                        assert marker not in data, f"the CA bundle is in {entry.name} ({member.name})"
                        if entry.name.endswith((".pem", ".crt")) or b"BEGIN CERTIFICATE" in data:
                            assert not (first_cert in data and marker in data)
    assert layers > 5
    print("entries under run/secrets:", secrets)
    history = docker("history", "--no-trunc", result.image).stdout
    assert marker.decode() not in history


def test_unchanged_repo_is_reused_without_docker_build(
    sample: tuple[BuildResult, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, root = sample
    calls = tmp_path / "docker-calls"
    shim = tmp_path / "docker"
    shim.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {shutil.which("docker")} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PAPERPACK_DOCKER", str(shim))
    again = build_image(Repo.open(root), mode="offline")
    assert again.reused and again.image == result.image and again.image_id == result.image_id
    assert again.labels == result.labels and again.log_path is None
    logged = calls.read_text().splitlines()
    assert logged and not any(ln.startswith(("build", "buildx")) for ln in logged), logged
    assert main(["build", str(root), "--offline", "--no-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["build"]
    assert out["reused"] is True and out["image"] == result.image
    report = tmp_path / "out" / "report.json"
    assert main(["build", str(root), "--offline", "--no-run", "-q", "-o", str(report)]) == 0
    assert json.loads(report.read_text())["build"]["image"] == result.image
    monkeypatch.delenv("PAPERPACK_DOCKER")
    # the creation time label counts seconds: with every layer cached, the first build and this one can fall in one
    # second and give the same image; wait for the clock to pass it (a condition, not a timing)
    created = result.labels["org.opencontainers.image.created"]
    while datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") <= created:
        time.sleep(0.05)
    forced = build_image(Repo.open(root), mode="offline", force=True)  # --force: built again, same tag
    assert not forced.reused and forced.image == result.image
    assert forced.image_id != result.image_id  # a new creation time label
    assert docker("image", "inspect", result.image_id, check=False).returncode != 0  # the old one is removed
    (root / "notes.md").write_text("a change\n")  # a changed repository gets a new tag
    from paperpack.image.tags import content_hash

    repo = Repo.open(root)
    assert content_hash(repo.root, repo.files, repo.symlinks, settings={}) != content_hash(
        repo.root, [f for f in repo.files if f != "notes.md"], repo.symlinks, settings={}
    )


def test_apt_postbuild_and_local_package(base_image: str, images: list[str], tmp_path: Path) -> None:
    result = build_case(CASES / "build-apt-postbuild-package", tmp_path, images)
    got = in_image(
        result.image,
        "import subprocess, os, paperpack_demo, six\n"
        "result = {'jq': subprocess.run(['jq', '--version'], capture_output=True, text=True).stdout,"
        " 'postbuild': open(os.path.expanduser('~/.postbuild-ran')).read(),"
        " 'answer': paperpack_demo.answer(), 'six': six.__version__, 'uid': os.getuid()}",
    )
    assert got["jq"].startswith("jq-")
    assert got["postbuild"].startswith("jq-") and got["postbuild"].strip().endswith("42")
    assert got["answer"] == 42 and got["six"] == "1.17.0" and got["uid"] == 1000


def test_translated_environment_yml(base_image: str, images: list[str], tmp_path: Path) -> None:
    result = build_case(CASES / "build-environment-yml", tmp_path, images)
    got = in_image(
        result.image,
        "import sys, numpy, six, packaging\n"
        "result = {'python': '%d.%d' % sys.version_info[:2], 'numpy': numpy.__version__, "
        "'six': six.__version__}",
    )
    assert got["python"] == "3.11" and got["numpy"].startswith("1.26.") and got["six"] == "1.17.0"


def test_repo_dockerfile_and_export(
    base_image: str, images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = build_case(CASES / "build-dockerfile", tmp_path, images)
    assert result.python_version is None and result.labels["io.paperpack.mode"] == "offline"
    out = docker(
        "run", "--rm", "--network", "none", result.image, "sh", "-c", "id -u; cat /etc/paperpack-dockerfile-marker"
    ).stdout.split("\n")
    assert out[0] == "1000" and "repository's Dockerfile" in out[1]
    # docker-archive: what `docker load` and Apptainer's docker-archive:// read
    archive = tmp_path / "paper.tar"
    assert main(["export", result.image, "-o", str(archive)]) == 0
    printed = capsys.readouterr().out
    assert f"docker-archive://{archive}" in printed and "apptainer build" in printed
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == [result.image]
    by_path = tmp_path / "by-path.tar"  # a repository folder: the image `paperpack build` made for it
    assert main(["export", str(tmp_path / "build-dockerfile"), "-o", str(by_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["image"] == result.image and by_path.stat().st_size > 1e6
    # OCI layout: every blob is where its digest says
    oci = export_image(result.image, tmp_path / "paper-oci.tar", fmt="oci")
    assert any("oci-archive://" in c for c in oci.commands)
    with tarfile.open(oci.path) as tar:
        names = tar.getnames()
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        digest = index["manifests"][0]["digest"].split(":")[1]
        man = json.load(tar.extractfile(f"blobs/sha256/{digest}"))  # type: ignore[arg-type]
        for blob in [man["config"], *man["layers"]]:
            data = tar.extractfile(f"blobs/sha256/{blob['digest'].split(':')[1]}").read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == blob["digest"].split(":")[1]
    assert "oci-layout" in names
    assert not list(tmp_path.glob(".*.part"))  # no half files left


def test_bad_pin_fails_with_hint(base_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "build-bad-pin"
    shutil.copytree(CASES / "build-bad-pin", root)
    with pytest.raises(BuildError) as info:
        build_image(Repo.open(root), mode="offline")
    err = info.value
    assert "pip install" in err.step and "numpy==1.0.99" in err.hint and "Python 3.11" in err.hint
    assert "No matching distribution found for numpy==1.0.99" in err.log_tail
    assert err.path is not None and err.path.is_file()
    assert main(["build", str(root), "--offline"]) == 1
    printed = capsys.readouterr().err
    assert "failed step" in printed and "hint:" in printed and "numpy==1.0.99" in printed


def test_missing_apt_package_fails_with_hint(base_image: str, tmp_path: Path) -> None:
    root = tmp_path / "build-missing-apt"
    shutil.copytree(CASES / "build-missing-apt", root)
    with pytest.raises(BuildError) as info:
        build_image(Repo.open(root), mode="offline")
    err = info.value
    assert "paperpack-no-such-package" in err.message and "Debian bookworm" in err.message
    assert "apt.txt" in err.hint and "apt-get" in err.step


def test_python_substitution_is_recorded(base_image: str, images: list[str], tmp_path: Path) -> None:
    result = build_case(CASES / "build-runtime-310", tmp_path, images, allow_substitution=True)
    assert result.python_version == "3.11" and result.substitution
    assert "3.10" in result.substitution and "runtime.txt" in result.substitution
    assert result.labels["io.paperpack.python-substitution"] == result.substitution
    got = in_image(result.image, "import sys, numpy\nresult = ['%d.%d' % sys.version_info[:2], numpy.__version__]")
    assert got == ["3.11", "1.26.4"]
