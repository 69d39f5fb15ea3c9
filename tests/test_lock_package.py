"""The dependencies of a setup.py / pyproject.toml package, and a Pipfile, seen by the time machine.

repo2docker runs ``pip install .`` for a setup.py (or a pyproject.toml with a build system) at the root, after
requirements.txt. Their dependencies are resolved as of the date with requirements.txt; ``paperpack lock``
pins them in requirements.txt's block, or prints them for the author to commit when there is no
requirements.txt: it never rewrites setup.py or pyproject.toml. Resolves against the package index on
127.0.0.1 with upload times (tests/pkgindex.py), never PyPI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.environment import detect
from paperpack.timemachine.pins import MARKER
from paperpack.timemachine.rerun import DatedOutcome, DatedRun
from paperpack.timemachine.sources import SourceKind, dated_source
from pkgindex import PackageIndex
from test_timemachine import AS_OF, index  # noqa: F401 (the fixture: the index on 127.0.0.1, PAPERPACK_PIP_INDEX_URL)

SETUP = """\
from setuptools import setup

setup(name="paper", version="1.0", packages=[],
      install_requires=["tabular==2.0.2", "plots>=3"])
"""
PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "paper"
version = "1.0"
dependencies = ["plots>=3"]  # the figures
"""


def _lock(root: Path, *extra: str) -> int:
    return main(["lock", str(root), "--as-of", "2023-06-15", "--python", "3.11", *extra])


def test_setup_py_is_never_rewritten_its_pins_are_printed(
    index: PackageIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "setup.py").write_text(SETUP)
    for extra in ((), ("--write",)):
        assert _lock(tmp_path, *extra) == 1
        out = capsys.readouterr().out
        assert "numcore 2.4.6 → 1.24.3" in out and "plots 3.11.2 → 3.7.1" in out
        assert (
            "setup.py is not rewritten: commit these pins as requirements.txt (repo2docker installs it before "
            "the package):\n"
        ) in out
        assert out.endswith(f"{MARKER}2023-06-15\nnumcore==1.24.3\nplots==3.7.1\ntabular==2.0.2\n")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["setup.py"]
        assert (tmp_path / "setup.py").read_text() == SETUP


def test_a_package_s_dependencies_join_the_block_of_requirements_txt(
    index: PackageIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "requirements.txt").write_text("tabular==2.0.2\n")
    assert _lock(tmp_path, "--write") == 0
    assert "plots 3.11.2 → 3.7.1" in capsys.readouterr().out
    assert (tmp_path / "requirements.txt").read_text() == (
        f"tabular==2.0.2\n{MARKER}2023-06-15\nnumcore==1.24.3\nplots==3.7.1\n"
    )
    assert (tmp_path / "pyproject.toml").read_text() == PYPROJECT


def test_the_dated_image_of_a_package_installs_a_requirements_txt_first(tmp_path: Path) -> None:
    """The scratch copy gets a requirements.txt of the pins: repo2docker (and the offline build) install it,
    then the package, whose dependencies are then already there at their dated versions."""
    (tmp_path / "setup.py").write_text(SETUP)
    source = dated_source(tmp_path, detect(tmp_path))
    assert not isinstance(source, str) and source.kind is SourceKind.PACKAGE
    assert source.text == "" and source.extra == ("tabular==2.0.2", "plots>=3")
    pins = f"{MARKER}2023-06-15\nplots==3.7.1\n"
    assert source.scratch_files(pins, "2023-06-15") == {"requirements.txt": pins}
    fixed = DatedRun(DatedOutcome.REPRODUCED, False, AS_OF, source=source)
    assert fixed.fix == "paperpack lock PATH --as-of 2023-06-15 (it prints the pins to commit as requirements.txt)"
    (tmp_path / "requirements.txt").write_text(pins)
    env = detect(tmp_path)
    assert env.requirements_txt == "requirements.txt" and env.installs_repo


def test_what_is_not_dated_says_why(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(SETUP)
    local = dated_source(tmp_path, detect(tmp_path), packages=False)
    assert local == (
        "the local engine does not install the package of setup.py: run with --engine docker "
        "--mode offline for a dated image"
    )
    pipfile = tmp_path / "pipenv"
    pipfile.mkdir()
    (pipfile / "Pipfile").write_text('[packages]\nplots = "*"\n')
    said = dated_source(pipfile, detect(pipfile))
    assert isinstance(said, str) and said.startswith(
        "the repository declares its environment in a Pipfile, which the offline build does not install"
    )
    assert said.endswith("; `paperpack lock PATH --as-of DATE --write` pins its entries as of a date")


PIPFILE = """\
[[source]]
url = "https://pypi.org/simple"
name = "pypi"

[packages]
tabular = "==2.0.2"  # the version of the paper
plots = {version = ">=3", extras = []}
local = {path = "."}

[dev-packages]
widgets = "*"

[requires]
python_version = "3.11"
"""


def test_a_pipfile_is_pinned_in_its_own_lines(
    index: PackageIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index.add("widgets", "0.5", uploaded="2023-02-10T10:00:00Z")
    index.add("widgets", "0.9", uploaded="2025-02-10T10:00:00Z")
    (tmp_path / "Pipfile").write_text(PIPFILE)
    assert _lock(tmp_path) == 1
    assert (tmp_path / "Pipfile").read_text() == PIPFILE
    assert _lock(tmp_path, "--write") == 0
    out = capsys.readouterr().out
    assert "widgets 0.9 → 0.5" in out and "plots 3.11.2 → 3.7.1" in out
    locked = (
        PIPFILE.replace('{version = ">=3"', '{version = "==3.7.1"')
        .replace('widgets = "*"', 'widgets = "==0.5"')
        .replace('local = {path = "."}\n', f'local = {{path = "."}}\n{MARKER}2023-06-15\nnumcore = "==1.24.3"\n')
    )
    assert (tmp_path / "Pipfile").read_text() == locked
    assert _lock(tmp_path, "--write") == 0  # a second lock replaces the block: the same file
    assert (tmp_path / "Pipfile").read_text() == locked
    (tmp_path / "Pipfile.lock").write_text("{}")
    assert _lock(tmp_path) == 1
    assert "Pipfile.lock pins every version pipenv installs" in capsys.readouterr().err


def test_the_environment_model_and_lock_read_a_pipfile_s_tables_alike(index: PackageIndex, tmp_path: Path) -> None:
    """One reader of Pipfile entries (environment/files.py's): a table header with a comment is a header, and
    an entry's line is looked for in its own table (a name in both tables has two lines)."""
    text = '[packages]  # for the figures\nplots = "*"\n\n[dev-packages]\nplots = ">=3"\n'
    (tmp_path / "Pipfile").write_text(text)
    assert [(r.specifier, r.line) for r in detect(tmp_path).requirements if r.source == "Pipfile"] == [
        ("", 2),
        (">=3", 5),
    ]
    assert _lock(tmp_path, "--write") == 0
    assert (tmp_path / "Pipfile").read_text() == (
        '[packages]  # for the figures\nplots = "==3.7.1"\n\n[dev-packages]\nplots = "==3.7.1"\n'
    )


def test_a_package_s_dependencies_that_do_not_resolve_name_its_file(
    index: PackageIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "setup.py").write_text(SETUP)
    assert main(["lock", str(tmp_path), "--as-of", "2020-01-01", "--python", "3.11"]) == 1
    err = capsys.readouterr().err
    assert "could not resolve setup.py as of 2020-01-01 for Python 3.11: no release of " in err
    assert "choose a later date with --as-of" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["setup.py"]


def test_a_pipfile_that_does_not_resolve_says_where_its_python_is_stated(
    index: PackageIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Pipfile").write_text(PIPFILE)
    assert main(["lock", str(tmp_path), "--as-of", "2020-01-01"]) == 1
    err = capsys.readouterr().err
    assert "could not resolve Pipfile as of 2020-01-01 for Python 3.11: no release of " in err
    assert 'in a Pipfile: `python_version = "X.Y"` under [requires]' in err
    assert (tmp_path / "Pipfile").read_text() == PIPFILE
