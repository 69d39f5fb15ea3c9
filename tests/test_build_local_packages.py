"""The repository's own packages in an offline build: which lines name them, and which are refused.

Real files in a temporary repository, the real buildpack rendering its Dockerfile; no Docker.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from paperpack.errors import ConfigError
from paperpack.image.buildpack import LocalPackage, backend_requirements, local_package, offline_buildpack

SETUP = "from setuptools import setup\nsetup(name='p')\n"


def repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (".", LocalPackage(".", False, (), "r.txt")),
        ("-e .", LocalPackage(".", True, (), "r.txt")),
        ("--editable=./sub[test, docs]", LocalPackage("sub", True, ("test", "docs"), "r.txt")),
        ("sub ; python_version >= '3'", LocalPackage("sub", False, (), "r.txt")),
        ("pkg @ file:./sub", LocalPackage("sub", False, (), "r.txt")),
        ("./dist/p-1.0-py3-none-any.whl", LocalPackage("dist/p-1.0-py3-none-any.whl", False, (), "r.txt")),
    ],
)
def test_local_lines_name_packages_of_the_repository(tmp_path: Path, line: str, expected: LocalPackage) -> None:
    root = repo(
        tmp_path,
        {
            "setup.py": SETUP,
            "sub/pyproject.toml": "[project]\nname = 'sub'\n",
            "dist/p-1.0-py3-none-any.whl": "not really a wheel",
        },
    )
    assert local_package(root, line, "r.txt") == expected


@pytest.mark.parametrize(
    "line",
    [
        "-e git+https://example.org/x.git#egg=x",
        "https://example.org/x.tar.gz",
        "/etc",
        "~/src/pkg",
        "../outside",
        "./nopackage",
        "file:///etc",
    ],
)
def test_lines_an_offline_build_cannot_build_without_network_are_refused(tmp_path: Path, line: str) -> None:
    root = repo(tmp_path, {"setup.py": SETUP, "nopackage/readme.txt": "x"})
    with pytest.raises(ConfigError) as info:
        local_package(root, line, "requirements.txt")
    assert info.value.message.startswith(f"requirements.txt: {line!r}")
    assert "--mode binder" in info.value.hint


def _buildpack(root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(root)
    return offline_buildpack()(base_image="paperpack/base:bookworm")


def test_index_options_beside_local_packages_reach_every_download_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repo(
        tmp_path,
        {
            "setup.py": SETUP,
            "requirements.txt": "-e .\n-r more.txt\n",
            "more.txt": "numpy\n--extra-index-url https://example.org/simple\n--pre\n"
            "--find-links=https://example.org/wheels\n",
        },
    )
    pack = _buildpack(root, monkeypatch)
    options = ["--extra-index-url", "https://example.org/simple", "--pre", "--find-links", "https://example.org/wheels"]
    assert pack.pip_options() == options
    flat = " ".join(options)
    named = [body for _, body in pack.get_preassemble_scripts() if "numpy" in body]
    assert len(named) == 1 and f"{flat} numpy" in named[0]
    local, _ = pack.local_packages()
    fetch = [body for _, body in pack.local_package_scripts(local) if "download" in body and "deps.txt" in body]
    assert len(fetch) == 1 and f"{flat} --dest" in fetch[0]


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("-c constraints.txt", "'-c'"),
        ("--find-links ./wheels", "'--find-links'"),
        ("--no-deps", "'--no-deps'"),
        ("--require-hashes", "'--require-hashes'"),
    ],
)
def test_pip_options_that_cannot_be_split_between_steps_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, what: str
) -> None:
    root = repo(
        tmp_path,
        {
            "setup.py": SETUP,
            "requirements.txt": "-e .\n-r more.txt\n",
            "more.txt": f"numpy\n{line}\n",
            "constraints.txt": "numpy<2\n",
        },
    )
    with pytest.raises(ConfigError, match=rf"more.txt:2: pip option {what}") as info:
        _buildpack(root, monkeypatch).get_preassemble_scripts()
    assert "--mode binder" in info.value.hint


def test_url_and_vcs_lines_beside_local_packages_are_downloaded_like_named_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repo(
        tmp_path,
        {
            "setup.py": SETUP,
            "requirements.txt": "-e .\n-e git+https://example.org/x.git#egg=x\nhttps://example.org/y.tar.gz\n",
        },
    )
    pack = _buildpack(root, monkeypatch)
    local, named = pack.local_packages()
    assert [p.path for p in local] == ["."]
    assert named == ["-e git+https://example.org/x.git#egg=x", "https://example.org/y.tar.gz"]
    step = [body for _, body in pack.get_preassemble_scripts() if "example.org" in body]
    args = shlex.join(["-e", "git+https://example.org/x.git#egg=x", "https://example.org/y.tar.gz"])
    assert len(step) == 1 and args in step[0]
    assert "/run/secrets/" in step[0], "a download step (these are third-party packages, as named ones are)"


def test_backends_are_read_from_pyproject_as_data(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {
            "pyproject.toml": '[build-system]\nrequires = ["hatchling>=1.20"]\n',
            "legacy/setup.py": SETUP,
            "st/pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\n',
            "bad/pyproject.toml": '[build-system]\nrequires = "setuptools"\n',
        },
    )
    assert backend_requirements(root, LocalPackage(".", False, (), "x")) == ["hatchling>=1.20"]
    assert backend_requirements(root, LocalPackage("legacy", False, (), "x")) == ["setuptools>=40.8.0", "wheel"]
    assert backend_requirements(root, LocalPackage("st", False, (), "x")) == ["setuptools>=61", "wheel"]
    assert backend_requirements(root, LocalPackage("w.whl", False, (), "x")) == []
    with pytest.raises(ConfigError, match="not a list of strings"):
        backend_requirements(root, LocalPackage("bad", False, (), "x"))


def test_environment_yml_local_items_are_built_after_the_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = repo(
        tmp_path,
        {
            "setup.py": SETUP,
            "environment.yml": "dependencies:\n  - python=3.11\n  - pip:\n      - six==1.17.0\n      - -e .\n",
        },
    )
    monkeypatch.chdir(root)
    df = str(offline_buildpack()(base_image="paperpack/base:bookworm").render({"NB_USER": "jovyan", "NB_UID": "1000"}))
    runs = [ln for ln in df.splitlines() if ln.startswith("RUN ")]
    named = next(ln for ln in runs if "six==1.17.0" in ln)
    editable = next(ln for ln in runs if "-e ." in ln)
    assert "-e" not in named.split("six==1.17.0")[1]  # the local item is not among the downloads
    assert df.index(named) < df.index("COPY --chown=1000:1000 src/ ") < df.index(editable)
    assert "id=paperpack-offline" in editable and "cacert" not in editable


def test_a_named_file_url_line_is_a_local_line_refused_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``name @ file:///…`` names files, not a download: validate and the local engine say so (is_local_requirement),
    # so the offline build refuses it with its fix instead of a download step whose pip cannot find the file
    line = "pkg @ file:///etc/pkg"
    root = repo(tmp_path, {"setup.py": SETUP, "requirements.txt": f"-e .\n{line}\n"})
    with pytest.raises(ConfigError) as info:
        _buildpack(root, monkeypatch).local_packages()
    assert info.value.message.startswith(f"requirements.txt: {line!r} is not a folder or file inside the repository")
    assert "--mode binder" in info.value.hint
