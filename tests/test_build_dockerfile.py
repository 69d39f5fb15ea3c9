"""The Dockerfile the offline buildpack renders: secret only on download steps, Docker 20.10 syntax."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from paperpack.errors import ConfigError
from paperpack.image.buildpack import CA_PATH, JUPYTER_STACK, limited_step, offline_buildpack, offline_step
from paperpack.image.diagnose import diagnose
from tests.conftest import CASES

BUILD_ARGS = {"NB_USER": "jovyan", "NB_UID": "1000"}


def render(root: Path, monkeypatch: pytest.MonkeyPatch, **settings: object) -> str:
    monkeypatch.chdir(root)  # repo2docker creates buildpacks inside the checkout
    bp = offline_buildpack(**settings)(base_image="paperpack/base:bookworm")  # type: ignore[arg-type]
    return str(bp.render(BUILD_ARGS))


def run_lines(dockerfile: str) -> list[str]:
    return [ln for ln in dockerfile.splitlines() if ln.startswith("RUN ")]


def test_secret_mounted_only_on_download_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    df = render(CASES / "build-apt-postbuild-package", monkeypatch)
    runs = run_lines(df)
    with_secret = [ln for ln in runs if "id=cacert" in ln]
    # the Jupyter stack, the local package's build backends and its dependencies: downloads, nothing else
    assert len(with_secret) == 3
    assert all(
        ln.startswith("RUN --mount=type=secret,id=cacert,mode=0444 --mount=type=secret,id=proxy,mode=0444 ")
        for ln in with_secret
    )
    assert any(all(pkg.split(">")[0] in ln for pkg in JUPYTER_STACK) for ln in with_secret)
    copied = df.index("COPY --chown=1000:1000 src/ ")
    for ln in with_secret:  # after the repository is copied: only the root-owned pip, isolated, and no venv tool
        if df.index(ln) > copied:
            assert "/opt/paperpack-pip/bin/python -I" in ln and "/srv/venv/bin/" not in ln and "postBuild" not in ln
    for ln in runs:
        if "id=cacert" not in ln:
            assert "id=proxy" not in ln and CA_PATH not in ln, ln
    # the CA is trusted inside the download steps only, never through ENV
    assert not re.search(r"^ENV .*(PIP_CERT|REQUESTS_CA_BUNDLE|SSL_CERT_FILE)", df, re.M)
    assert CA_PATH not in "\n".join(ln for ln in df.splitlines() if not ln.startswith("RUN "))


def test_no_step_shares_a_cache_between_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache mount outlives the build: one paper's setup.py could leave files for the next paper."""
    df = render(CASES / "build-apt-postbuild-package", monkeypatch)
    assert "type=cache" not in df
    downloads = [ln for ln in run_lines(df) if "pip install" in ln]
    assert downloads and all("PIP_NO_CACHE_DIR=1" in ln and "PIP_CACHE_DIR=" not in ln for ln in downloads)


def test_no_syntax_line_and_no_heredocs(monkeypatch: pytest.MonkeyPatch) -> None:
    df = render(CASES / "build-apt-postbuild-package", monkeypatch)
    assert "# syntax=" not in df
    assert "<<" not in df


def test_apt_postbuild_start_and_local_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    shutil.copytree(CASES / "build-apt-postbuild-package", root)
    (root / "start").write_text('#!/bin/bash\nexec "$@"\n')
    df = render(root, monkeypatch)
    assert re.search(r"^RUN apt-get -qq update && apt-get install --yes --no-install-recommends jq ", df, re.M)
    assert re.search(r"^RUN .*chmod \+x postBuild && \./postBuild$", df, re.M)
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/start"' in df
    pip_local = [ln for ln in run_lines(df) if " wheel " in ln and ln.endswith(" .")]
    assert len(pip_local) == 1 and "id=paperpack-offline" in pip_local[0] and "cacert" not in pip_local[0]
    assert df.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/") < df.index(pip_local[0])


def test_simple_requirements_install_before_the_sources_are_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n")
    df = render(tmp_path, monkeypatch)
    step = next(ln for ln in run_lines(df) if "-r requirements.txt" in ln)
    assert df.index("src/requirements.txt") < df.index(step) < df.index("COPY --chown=1000:1000 src/ ")
    assert "python3 -c 'import sys" in df and '"3.11"' in df  # the base image's Python is checked


def test_local_requirements_install_after_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "requirements.txt").write_text("-e .\nnumpy\n")
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(name='p')\n")
    df = render(tmp_path, monkeypatch)
    named = next(ln for ln in run_lines(df) if ln.endswith(" numpy"))  # no code of the repository: before it
    editable = next(ln for ln in run_lines(df) if "-e ." in ln)
    assert df.index(named) < df.index("COPY --chown=1000:1000 src/ ") < df.index(editable)


def test_environment_yml_requirements_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    df = render(CASES / "build-environment-yml", monkeypatch)
    step = next(ln for ln in run_lines(df) if "numpy==1.26.*" in ln)
    assert "'packaging>=23'" in step and "six==1.17.0" in step and "type=secret" in step


def test_pyproject_without_project_table_is_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    df = render(tmp_path, monkeypatch)
    assert not any(ln.endswith(" .") for ln in run_lines(df))


def test_bad_apt_name_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "apt.txt").write_text("jq\nrm -rf /\n")
    with pytest.raises(ConfigError) as info:
        render(tmp_path, monkeypatch)
    assert "apt.txt:2" in info.value.message and "rm -rf /" in info.value.message


@pytest.mark.parametrize(
    "line, why",
    [
        ("python3-", "remove"),
        ("-o=APT::Get::Assume-Yes=1", "option"),
        ("--allow-unauthenticated", "option"),
        ("libfoo-=1.2", "remove"),
        ("Jq", "not a Debian package name"),
    ],
)
def test_apt_lines_that_would_not_install_a_package_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, why: str
) -> None:
    """apt-get install pkg- removes pkg: an apt.txt line may only ever name a package to install."""
    (tmp_path / "apt.txt").write_text(f"jq\n{line}\n")
    with pytest.raises(ConfigError) as info:
        render(tmp_path, monkeypatch)
    assert "apt.txt:2" in info.value.message and repr(line) in info.value.message and why in info.value.message


def test_apt_names_with_versions_and_dots_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "apt.txt").write_text("libgl1-mesa-glx\ng++ # compiler\npython3.11=3.11.2-6\n\n")
    df = render(tmp_path, monkeypatch)
    assert "--no-install-recommends g++ libgl1-mesa-glx python3.11=3.11.2-6 " in df


def test_proxy_credentials_go_only_into_the_secret() -> None:
    from paperpack.image.builder import ProxySettings, without_credentials

    assert without_credentials("http://user:p%40ss@proxy.example:3128/") == "http://proxy.example:3128/"
    assert without_credentials("user:pw@proxy:3128") == "proxy:3128"
    assert without_credentials("http://user:p@ss@proxy:3128") == "http://proxy:3128"  # an unescaped @
    assert without_credentials("http://proxy:3128") == "http://proxy:3128"
    proxy = ProxySettings.from_environ(
        {
            "HTTPS_PROXY": "http://u:secret@proxy:3128",
            "NO_PROXY": "localhost",
            "http_proxy": "http://proxy:3128",
            "HOME": "/root",
        }
    )
    assert proxy.build_args == {
        "HTTPS_PROXY": "http://proxy:3128",
        "NO_PROXY": "localhost",
        "http_proxy": "http://proxy:3128",
    }
    assert proxy.secret == "export HTTPS_PROXY=http://u:secret@proxy:3128\n"
    assert ProxySettings.from_environ({"https_proxy": "http://proxy:3128"}).secret is None


def test_the_build_time_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperpack.image.builder import DEFAULT_BUILD_TIMEOUT, build_timeout

    monkeypatch.delenv("PAPERPACK_BUILD_TIMEOUT", raising=False)
    assert build_timeout() == DEFAULT_BUILD_TIMEOUT and build_timeout(5) == 5
    monkeypatch.setenv("PAPERPACK_BUILD_TIMEOUT", "90")
    assert build_timeout() == 90
    monkeypatch.setenv("PAPERPACK_BUILD_TIMEOUT", "ten minutes")
    with pytest.raises(ConfigError, match="PAPERPACK_BUILD_TIMEOUT='ten minutes' is not a positive number"):
        build_timeout()


@pytest.mark.parametrize(
    ("body", "said", "cause"),
    [
        (
            limited_step("chmod +x postBuild && ./postBuild"),
            "paperpack: the build guard did not limit this step within 60 s",
            "the build guard did not limit this step within 60 s, so the step did not run",
        ),
        (
            offline_step("pip wheel ."),
            "paperpack: the network of this build step is still up (/sys/class/net/eth0)",
            "the network of a step that runs the paper's package builds was still up, so the step did not run",
        ),
    ],
)
def test_a_step_its_gate_failed_is_diagnosed_as_the_guard_not_as_the_step(body: str, said: str, cause: str) -> None:
    # what the gate prints (the words of a real failed step): nothing of the step ran, so no "postBuild failed"
    lines = [f"#20 [stage-0 15/17] RUN {body}", f"#20 60.2 {said}", '#20 ERROR: process "/bin/sh -c …" exit code: 1']
    d = diagnose(lines)
    assert d.cause == cause
    assert "docker info" in d.hint and "docs/build.md, 'Build limits'" in d.hint
    assert said in d.tail
