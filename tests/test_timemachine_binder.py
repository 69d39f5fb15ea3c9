"""The dated twin of a binder-mode image (stock repo2docker): the scratch copy it is built from.

A real binder-mode build is not run here: stock repo2docker builds on ``buildpack-deps:24.04`` and
installs conda and the packages from the Internet, and this machine has neither that base image nor
the Internet (only loopback). What is checked instead: the files of the scratch copy, byte for byte,
and what repo2docker's own buildpacks (``PythonBuildPack``, ``CondaBuildPack``: their ``detect()`` and
the files they read) make of them: the buildpack chosen, the Python version, the pinned entries.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from paperpack.environment import detect
from paperpack.image.builder import BuildMode
from paperpack.notebook.verdicts import Verdict
from paperpack.timemachine.pins import MARKER, pin_text
from paperpack.timemachine.sources import DatedSource, binder_python, dated_source
from test_timemachine import AS_OF, _index

DATE = "2023-06-15"
#: the dated resolution: canonical PyPI name → version as of DATE (what resolve_as_of gives; written out here
#: so that the files can be checked exactly)
VERSIONS = {"numpy": "1.24.3", "scipy": "1.10.1", "ppk-tabular": "2.0.2", "h5py": "3.9.0", "six": "1.16.0"}


def buildpack(name: str):  # type: ignore[no-untyped-def]
    """repo2docker's buildpack ``name`` (``PythonBuildPack``, ``CondaBuildPack``), imported as paperpack imports
    repo2docker (without its dependencies' deprecation warnings)."""
    from paperpack.image._r2d import repo2docker

    return getattr(repo2docker.buildpacks, name)("buildpack-deps:24.04")


@contextmanager
def inside(folder: Path) -> Iterator[None]:
    """repo2docker's buildpacks read the checkout from the working directory."""
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)


def scratch(root: Path, files: dict[str, str], tmp: Path) -> Path:
    """The scratch copy as :func:`~paperpack.timemachine.rerun.dated_image` makes it: the repository's files
    with ``files`` in place."""
    copy = tmp / "scratch"
    for path in root.rglob("*"):
        if path.is_file():
            (copy / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(root)).write_bytes(path.read_bytes())
    for rel, text in files.items():
        (copy / rel).write_text(text, encoding="utf-8")
    return copy


def _source(root: Path) -> DatedSource:
    source = dated_source(root, detect(root))
    assert isinstance(source, DatedSource), source
    return source


def test_requirements_get_the_dated_pins_and_the_python_of_the_date(tmp_path: Path) -> None:
    root = tmp_path / "paper"
    (root / "binder").mkdir(parents=True)
    (root / "binder" / "requirements.txt").write_text("ppk-tabular==2.0.2\nnumpy\nscipy>=1.7  # fits\n")
    source = _source(root)
    pinned = pin_text(source.text, VERSIONS, date=DATE)
    files = source.binder_scratch_files(root, detect(root), pinned, VERSIONS, DATE, "3.11")
    assert files == {
        "binder/requirements.txt": "ppk-tabular==2.0.2\nnumpy==1.24.3\nscipy==1.10.1  # fits\n"
        f"{MARKER}{DATE}\nh5py==3.9.0\nsix==1.16.0\n",
        "binder/runtime.txt": "python-3.11\n",
    }
    copy = scratch(root, files, tmp_path)
    with inside(copy):
        pack = buildpack("PythonBuildPack")
        assert pack.detect() and not buildpack("CondaBuildPack").detect()
        assert pack.python_version == "3.11"
        read = Path(pack.binder_path("requirements.txt")).read_text()
    assert "numpy==1.24.3\n" in read and "scipy==1.10.1" in read


def test_no_runtime_txt_when_the_repository_declares_its_python(tmp_path: Path) -> None:
    root = tmp_path / "paper"
    root.mkdir()
    (root / "requirements.txt").write_text("numpy\n")
    (root / "runtime.txt").write_text("python-3.9\n")
    env = detect(root)
    pick = binder_python(dt.date(2023, 6, 15), declared=env.python_version, used="3.9", runtime_file=True)
    assert (pick.version, pick.ask) == ("3.9", False)
    source = _source(root)
    versions = {"numpy": "1.24.3"}
    files = source.binder_scratch_files(
        root, env, pin_text(source.text, versions, date=DATE), versions, DATE, pick.version if pick.ask else None
    )
    assert files == {"requirements.txt": "numpy==1.24.3\n"}
    with inside(scratch(root, files, tmp_path)):
        assert buildpack("PythonBuildPack").python_version == "3.9"


def test_the_python_of_the_date_is_one_repo2docker_builds() -> None:
    from repo2docker.buildpacks.conda.supported_python_version import SUPPORTED_PYTHON_VERSION  # repo2docker's own

    def pick(day: str) -> tuple[str, bool]:
        choice = binder_python(dt.date.fromisoformat(day), declared=None, used="3.10", runtime_file=False)
        return choice.version, choice.ask

    assert pick("2023-06-15") == ("3.11", True)
    assert pick("2020-01-10") == ("3.8", True)
    assert pick("2019-01-10") == ("3.8", True)  # 3.7 then: repo2docker builds 3.8 at the oldest
    assert pick("2026-01-10") == ("3.14", True)
    for day in ("2016-01-01", "2019-01-10", "2021-06-01", "2022-12-01", "2024-06-01", "2026-01-10"):
        assert pick(day)[0] in SUPPORTED_PYTHON_VERSION
    other = binder_python(dt.date(2023, 6, 15), declared=None, used="3.10", runtime_file=True)
    assert (other.version, other.ask) == ("3.10", False)


ENVIRONMENT = """\
name: paper  # the paper's environment
channels:
  - conda-forge
  - defaults
dependencies:
  - conda-forge::numpy>=1.20  # arrays
  - "scipy"
  - matplotlib=3.7.1
  - pip
  - pip:
      - ppk-tabular==2.0.2
      - h5py
"""


def test_environment_yml_is_pinned_in_place(tmp_path: Path) -> None:
    root = tmp_path / "paper"
    root.mkdir()
    (root / "environment.yml").write_text(ENVIRONMENT)
    env = detect(root)
    source = _source(root)
    files = source.binder_scratch_files(root, env, pin_text(source.text, VERSIONS, date=DATE), VERSIONS, DATE, "3.11")
    assert files == {
        "environment.yml": """\
name: paper  # the paper's environment
channels:
  - conda-forge
  - defaults
dependencies:
  - python=3.11
  - conda-forge::numpy=1.24.3  # arrays
  - "scipy=1.10.1"
  - matplotlib=3.7.1
  - pip
  - pip:
      - ppk-tabular==2.0.2
      - h5py==3.9.0
"""
    }
    with inside(scratch(root, files, tmp_path)):
        pack = buildpack("CondaBuildPack")
        assert pack.detect()
        assert pack.python_version == "3.11"
        read = pack.environment_yaml
    assert read["channels"] == ["conda-forge", "defaults"]
    assert read["dependencies"][:4] == ["python=3.11", "conda-forge::numpy=1.24.3", "scipy=1.10.1", "matplotlib=3.7.1"]
    assert read["dependencies"][-1] == {"pip": ["ppk-tabular==2.0.2", "h5py==3.9.0"]}


def test_the_pins_a_previous_lock_wrote_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "paper"
    root.mkdir()
    text = f"dependencies:\n  - pip:\n    - plots\n    {MARKER}2023-01-01\n    - helper==1.0\n"
    (root / "environment.yml").write_text(text)
    files = _source(root).binder_scratch_files(root, detect(root), "", {"plots": "3.7.1", "helper": "2.0"}, DATE)
    assert files == {"environment.yml": text.replace("- plots", "- plots==3.7.1")}


def test_environment_yml_that_declares_its_python_keeps_it(tmp_path: Path) -> None:
    root = tmp_path / "paper"
    root.mkdir()
    text = "dependencies:\n- python=3.9\n- numpy\n"
    (root / "environment.yml").write_text(text)
    source = _source(root)
    files = source.binder_scratch_files(root, detect(root), "", VERSIONS, DATE)
    assert files == {"environment.yml": "dependencies:\n- python=3.9\n- numpy=1.24.3\n"}
    with inside(scratch(root, files, tmp_path)):
        assert buildpack("CondaBuildPack").python_version == "3.9"


ENV = (
    "name: paper\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - numcore\n  - pip\n  - pip:\n"
    "    - tabular==2.0.2\n    - plots\n"
)


def test_a_binder_mode_image_gets_a_binder_mode_twin(
    docker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a run in an image ``paperpack build --mode binder`` made, the dated rerun builds the scratch copy
    in binder mode. The image of the first run is a real one (its labels are what the rerun reads); the binder
    build itself is replaced by a recorder that fails as the build fails here, because a real one needs
    repo2docker's base image and conda from the Internet (see the module's docstring). The dependencies are
    resolved against a package index on 127.0.0.1."""
    import paperpack.image.builder as builder
    from paperpack.errors import BuildError
    from paperpack.repository.repo import Repo
    from paperpack.run.results import NotebookRun, RunResult
    from paperpack.timemachine import AsOfChoice, AsOfMode
    from paperpack.timemachine.rerun import DatedOutcome, dated_rerun
    from paperpack.util.docker import docker_cli

    root = tmp_path / "paper"
    root.mkdir()
    (root / "environment.yml").write_text(ENV)
    tag = f"paperpack-test/dated-binder:{os.getpid()}"
    dockerfile = "FROM paperpack/base:bookworm\nLABEL io.paperpack.mode=binder io.paperpack.python=3.11\n"
    subprocess.run(
        [docker_cli(), "build", "-q", "-t", tag, "-"], input=dockerfile, text=True, check=True, capture_output=True
    )
    seen: list[tuple[str, str]] = []

    def binder_build(repo: Repo, mode: str = "auto", **_: object) -> None:
        seen.append((mode, (repo.root / "environment.yml").read_text()))
        raise BuildError(
            "repo2docker's base image buildpack-deps:24.04 is not on this machine",
            hint="binder mode needs the Internet",
        )

    monkeypatch.setattr(builder, "build_image", binder_build)
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "cache"))
    try:
        with _index() as served:
            monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", served.url)
            result = RunResult(
                engine="docker",
                isolation="container",
                image=tag,
                out_dir=tmp_path / "out",
                jobs=1,
                limits={},
                notebooks=[NotebookRun("a.ipynb", verdict=Verdict.FAILED)],
            )
            dated = dated_rerun(Repo.open(root, manifest=False), result, AsOfChoice(AsOfMode.DATE, AS_OF.date))
    finally:
        subprocess.run([docker_cli(), "rmi", "-f", tag], capture_output=True, check=False)
    assert seen == [
        (BuildMode.BINDER, ENV.replace("- numcore", "- numcore=1.24.3").replace("- plots", "- plots==3.7.1"))
    ]
    assert dated is not None and dated.outcome is DatedOutcome.NOT_TRIED
    assert "could not be built: repo2docker's base image" in dated.reason, dated.reason
    assert (root / "environment.yml").read_text() == ENV
