"""``paperpack lock`` on an environment.yml: the pip section pinned in its own lines, nothing else touched.

Resolves against the package index on 127.0.0.1 with upload times (tests/pkgindex.py), never PyPI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperpack.cli.main import main
from paperpack.errors import ConfigError, DatedResolutionError
from paperpack.timemachine.lock import plan_lock
from paperpack.timemachine.pins import MARKER
from pkgindex import PackageIndex
from test_timemachine import AS_OF, _index

ENV = """\
# the environment of the paper (conda)
name: paper
channels:
  - conda-forge
dependencies:
  - python=3.11   # as published
  - numcore
  - pip
  - pip:
      - tabular==2.0.2  # the exact release
      - "plots>=3"
"""

PINNED = ENV.replace('"plots>=3"', '"plots==3.7.1"')


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with _index() as served:
        served.add("helper", "1.0", uploaded="2023-01-10T10:00:00Z")
        served.add("helper", "2.0", uploaded="2025-01-10T10:00:00Z")
        served.add("widgets", "0.5", requires=["helper"], uploaded="2023-02-10T10:00:00Z")
        monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", served.url)
        yield served


def _lock(root: Path, *extra: str) -> int:
    return main(["lock", str(root), "--as-of", "2023-06-15", "--python", "3.11", *extra])


def test_lock_pins_the_pip_section_in_place(
    index: PackageIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / "environment.yml"
    env.write_bytes(ENV.encode())
    assert _lock(tmp_path) == 1  # the diff first, nothing written
    out = capsys.readouterr().out
    assert '-      - "plots>=3"\n+      - "plots==3.7.1"\n' in out and "a/environment.yml" in out
    assert env.read_bytes() == ENV.encode()
    assert _lock(tmp_path, "--write") == 0
    # only the loose pip line changed; numcore, pulled in by tabular, is a conda entry: left to conda
    assert env.read_bytes() == PINNED.encode()
    assert _lock(tmp_path) == 0 and "already pins" in capsys.readouterr().out  # a second run changes nothing


def test_lock_adds_pulled_in_packages_at_the_entries_indentation(index: PackageIndex, tmp_path: Path) -> None:
    env = tmp_path / "environment.yml"
    text = ENV.replace('      - "plots>=3"\n', "      - widgets  # plotting\n") + "# end\n"
    env.write_bytes(text.replace("\n", "\r\n").encode())
    assert _lock(tmp_path, "--write") == 0
    want = text.replace(
        "      - widgets  # plotting\n",
        f"      - widgets==0.5  # plotting\n      {MARKER}2023-06-15\n      - helper==1.0\n",
    )
    assert env.read_bytes() == want.replace("\n", "\r\n").encode()
    assert _lock(tmp_path) == 0  # the block of the first run is replaced by the same block, not added again
    assert env.read_bytes() == want.replace("\n", "\r\n").encode()


def test_a_malformed_environment_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - pip:\n      - plots\n    - : [\n")
    with pytest.raises(ConfigError, match=r"^environment\.yml(:\d+)?: YAML syntax error") as caught:
        plan_lock(tmp_path, AS_OF)
    assert "environment.yml" in caught.value.hint
    assert _lock(tmp_path) == 2 and "environment.yml" in capsys.readouterr().err


def test_an_environment_file_without_a_pip_section_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - python=3.11\n  - numpy\n")
    with pytest.raises(DatedResolutionError, match=r"environment\.yml has no pip section") as caught:
        plan_lock(tmp_path, AS_OF)
    assert "- pip:" in caught.value.hint
    assert _lock(tmp_path) == 1
    assert "no pip section" in capsys.readouterr().err
    assert (tmp_path / "environment.yml").read_text() == "dependencies:\n  - python=3.11\n  - numpy\n"


def test_an_environment_file_that_is_a_link_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(ENV)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "environment.yml").symlink_to(outside)
    with pytest.raises(ConfigError, match=r"environment\.yml.*link.*outside the repository"):
        plan_lock(repo, AS_OF)
    assert outside.read_text() == ENV


def test_a_pip_section_that_only_includes_a_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - pip:\n      - -r extra.txt\n")
    (tmp_path / "extra.txt").write_text("plots\n")
    with pytest.raises(DatedResolutionError, match=r"only includes extra\.txt with -r"):
        plan_lock(tmp_path, AS_OF)


def test_the_dated_image_of_an_environment_yml_installs_every_entry_as_of_the_date(
    index: PackageIndex, tmp_path: Path
) -> None:
    """The conda entries (under their PyPI names) and the pip entries are resolved together; the scratch
    copy's environment file makes the offline build install exactly the dated pins, with the Python kept."""
    from paperpack.environment import detect
    from paperpack.image.environment import plan_offline
    from paperpack.timemachine.resolve import resolve_as_of
    from paperpack.timemachine.sources import SourceKind, dated_source

    repo = tmp_path / "paper"
    repo.mkdir()
    (repo / "environment.yml").write_text(ENV)
    source = dated_source(repo, detect(repo))
    assert not isinstance(source, str) and source.kind is SourceKind.ENVIRONMENT_YML
    assert source.text == "numcore\ntabular==2.0.2\nplots>=3\n" and source.python == "3.11"
    resolution = resolve_as_of(source.text, AS_OF, "3.11", cache_folder=tmp_path / "cache")
    assert [str(c) for c in resolution.changes] == ["numcore 2.4.6 → 1.24.3", "plots 3.11.2 → 3.7.1"]
    files = source.scratch_files(resolution.text, "2023-06-15")
    assert list(files) == ["environment.yml"]
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "environment.yml").write_text(files["environment.yml"])
    plan = plan_offline(copy)
    assert plan.requirements == ["numcore==1.24.3", "tabular==2.0.2", "plots==3.7.1"]
    assert plan.python == "3.11" and plan.requested == "3.11"
    assert (repo / "environment.yml").read_text() == ENV
    # the fix: lock pins the pip section; the conda entries are the author's to pin, at these versions
    from paperpack.timemachine.rerun import DatedOutcome, DatedRun

    fixed = DatedRun(DatedOutcome.REPRODUCED, False, AS_OF, resolution=resolution, source=source)
    assert fixed.fix == (
        "paperpack lock PATH --as-of 2023-06-15 --write (the pip section); pin the conda entries "
        "of environment.yml: numcore=1.24.3"
    )


def test_an_environment_yml_is_not_dated_by_the_local_engine(index: PackageIndex, tmp_path: Path) -> None:
    """The local engine does not install an environment.yml: its rerun says so (and how to get one)."""
    from paperpack.repository.repo import Repo
    from paperpack.run.results import NotebookRun, RunResult
    from paperpack.timemachine import AsOfChoice, AsOfMode
    from paperpack.timemachine.rerun import DatedOutcome, dated_rerun

    (tmp_path / "environment.yml").write_text(ENV)
    result = RunResult(engine="local", isolation="", image=None, out_dir=tmp_path / "out", jobs=1, limits={})
    result.notebooks.append(NotebookRun("a.ipynb", status="error", verdict="failed"))
    dated = dated_rerun(Repo.open(tmp_path, manifest=False), result, AsOfChoice(AsOfMode.DATE, AS_OF.date))
    assert dated is not None and dated.outcome is DatedOutcome.NOT_TRIED
    assert dated.reason.startswith("the local engine does not install environment.yml"), dated.reason
    assert "--engine docker --mode offline" in dated.reason
    assert "`paperpack lock PATH --as-of 2023-06-15` shows the dated pins of its pip section" in dated.reason
