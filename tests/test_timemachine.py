"""The time machine's logic: the date and its source, drift classification, dated pins, the lock.

Everything here runs without the internet: the dated resolution is pip's real resolver against a
package index on 127.0.0.1 that serves upload times (tests/pkgindex.py, PEP 700).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gitdate import git as _git
from paperpack.cli.main import main
from paperpack.errors import DatedResolutionError, PaperpackError, UsageError
from paperpack.timemachine import (
    AsOf,
    AsOfMode,
    DateSource,
    DriftKind,
    ResolutionStatus,
    classify,
    parse_as_of,
    repository_date,
    resolve_as_of,
)
from paperpack.timemachine.asof import python_note
from paperpack.timemachine.drift import failure_of
from paperpack.timemachine.lock import plan_lock, write_lock
from paperpack.timemachine.pins import MARKER, pin_changes, pin_text, read_lines
from pkgindex import PackageIndex

# --- the date ------------------------------------------------------------------------------------


def test_parse_as_of() -> None:
    assert parse_as_of("auto").mode is AsOfMode.AUTO
    assert parse_as_of("OFF").mode is AsOfMode.OFF
    choice = parse_as_of("2023-06-15")
    assert (choice.mode, choice.date) == (AsOfMode.DATE, dt.date(2023, 6, 15))
    for bad in ("2023-13-01", "15/06/2023", "yesterday", "2999-01-01"):
        with pytest.raises(UsageError):
            parse_as_of(bad)


def test_date_from_the_last_commit_changing_notebooks_or_environment(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "analysis.ipynb").write_text("{}")
    (tmp_path / "requirements.txt").write_text("pandas\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "paper", date="2023-06-15")
    (tmp_path / "README.md").write_text("later edit of the README only\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "readme", date="2025-01-02")
    as_of = repository_date(tmp_path, notebooks=["analysis.ipynb"])
    assert as_of is not None
    assert (as_of.date, as_of.source) == (dt.date(2023, 6, 15), DateSource.GIT)
    (tmp_path / "binder").mkdir()
    (tmp_path / "binder" / "requirements.txt").write_text("pandas==2.0.2\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "pin", date="2024-03-04")
    assert repository_date(tmp_path, notebooks=["analysis.ipynb"]).date == dt.date(2024, 3, 4)  # type: ignore[union-attr]
    # a notebook name is no pathspec magic: as one, ":(glob)*" would match every file (later.txt too)
    magic = ":(glob)*"
    (tmp_path / "later.txt").write_text("x")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "later", date="2025-05-05")
    assert repository_date(tmp_path, notebooks=[magic]).date == dt.date(2024, 3, 4)  # type: ignore[union-attr]


def test_date_given_or_declared_wins_and_none_without_git(tmp_path: Path) -> None:
    assert repository_date(tmp_path, notebooks=[]) is None
    declared = repository_date(tmp_path, notebooks=[], manifest={"environment": {"as_of": "2022-02-02"}})
    assert declared is not None and (declared.date, declared.source) == (dt.date(2022, 2, 2), DateSource.MANIFEST)
    given = repository_date(
        tmp_path, notebooks=[], manifest={"environment": {"as_of": "2022-02-02"}}, given=dt.date(2021, 1, 1)
    )
    assert given is not None and given.source is DateSource.GIVEN and given.before == "2021-01-02T00:00:00Z"


def test_python_note_for_a_date_before_that_python() -> None:
    note = python_note("3.11", dt.date(2021, 5, 1))
    assert note is not None and "2022-10-24" in note and "3.11" in note
    assert python_note("3.11", dt.date(2023, 6, 15)) is None


# --- drift ---------------------------------------------------------------------------------------

SITE = "/venv/lib/python3.11/site-packages"


def _error(ename: str, evalue: str, traceback: list[str] | None = None) -> dict[str, object]:
    return {"ename": ename, "evalue": evalue, "traceback": traceback or []}


@pytest.mark.parametrize(
    ("error", "kind", "package"),
    [
        (
            _error(
                "ImportError",
                "numpy.core.multiarray failed to import",
                [f"File {SITE}/pandas/__init__.py:22\n  from pandas.compat import ..."],
            ),
            DriftKind.NUMPY_ABI,
            "pandas",
        ),
        (
            _error(
                "ValueError",
                "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C "
                "header, got 88 from PyObject",
            ),
            DriftKind.NUMPY_ABI,
            None,
        ),
        (
            _error("AttributeError", "module 'numpy' has no attribute 'float'.\n`np.float` was a deprecated alias"),
            DriftKind.REMOVED_ALIAS,
            "numpy",
        ),
        (
            _error("AttributeError", "`np.float_` was removed in the NumPy 2.0 release. Use `np.float64` instead."),
            DriftKind.REMOVED_ALIAS,
            "numpy",
        ),
        (
            _error(
                "TypeError",
                "unsupported operand",
                ["Cell In[3], line 2\n  df.plot()", f"File {SITE}/matplotlib/axes/_base.py:310, in f(x)\n  ..."],
            ),
            DriftKind.PACKAGE_API,
            "matplotlib",
        ),
        (
            _error(
                "ImportError", f"cannot import name 'soft_unicode' from 'markupsafe' ({SITE}/markupsafe/__init__.py)"
            ),
            DriftKind.PACKAGE_API,
            "markupsafe",
        ),
        (
            _error("ModuleNotFoundError", "No module named 'sklearn.externals.joblib'"),
            DriftKind.MISSING_SUBMODULE,
            "sklearn",
        ),
        (
            _error("AttributeError", "'Dataset' object has no attribute 'value'", ["Cell In[4], line 1\n  d.value"]),
            DriftKind.CHANGED_CALL,
            None,
        ),
        (
            _error("TypeError", "SINDy.__init__() got an unexpected keyword argument 'feature_names'"),
            DriftKind.CHANGED_CALL,
            None,
        ),
        (
            _error(
                "FutureWarning",
                "The default of observed=False is deprecated",
                [f"File {SITE}/pandas/core/groupby.py:9, in g()\n  ..."],
            ),
            DriftKind.DEPRECATION,
            "pandas",
        ),
    ],
)
def test_drift_is_recognised(error: dict[str, object], kind: DriftKind, package: str | None) -> None:
    drift = classify(failure_of(error))
    assert drift is not None
    assert (drift.kind, drift.package) == (kind, package)


@pytest.mark.parametrize(
    "error",
    [
        _error("ZeroDivisionError", "division by zero", ["Cell In[2], line 1\n  1/0"]),
        _error("NameError", "name 'x' is not defined"),
        _error("ModuleNotFoundError", "No module named 'seaborn'"),  # undeclared, not drifted
        _error("FileNotFoundError", "[Errno 2] No such file or directory: 'data.csv'"),
        _error("AttributeError", "'NoneType' object has no attribute 'shape'", ["Cell In[2], line 1\n  x.shape"]),
        _error("TypeError", 'can only concatenate str (not "int") to str', ["Cell In[2], line 1\n  'a' + 1"]),
        _error("AttributeError", "x", [f"File {SITE}/IPython/core/interactiveshell.py:1, in run()\n  ..."]),
    ],
)
def test_a_bug_of_the_notebook_is_not_drift(error: dict[str, object]) -> None:
    assert classify(failure_of(error)) is None


def test_only_errors_are_drift() -> None:
    error = _error("ImportError", "numpy.core.multiarray failed to import")
    assert classify(failure_of(error, status="timeout")) is None


# --- pins ----------------------------------------------------------------------------------------

REQS = """# analysis of 2023
pandas==2.0.2   # the author's pin
numpy
scipy>=1.7 ; python_version >= "3.8"  # loose
xarray[io]~=2023.1
-e ./mypkg
https://example.org/pkg.whl
"""


def test_pins_keep_the_authors_and_pin_the_rest_byte_for_byte() -> None:
    versions = {"pandas": "2.0.2", "numpy": "1.24.3", "scipy": "1.10.1", "xarray": "2023.5.0", "pytz": "2023.3"}
    new = pin_text(REQS, versions, date="2023-06-15")
    lines = new.splitlines()
    assert lines[:7] == [
        "# analysis of 2023",
        "pandas==2.0.2   # the author's pin",
        "numpy==1.24.3",
        'scipy==1.10.1; python_version >= "3.8"  # loose',
        "xarray[io]==2023.5.0",
        "-e ./mypkg",
        "https://example.org/pkg.whl",
    ]
    assert lines[7:] == [f"{MARKER}2023-06-15", "pytz==2023.3"]
    # a second lock replaces the appended block rather than adding another
    again = pin_text(new, {**versions, "pytz": "2023.2"}, date="2023-06-01")
    assert again.count(MARKER) == 1 and again.endswith("pytz==2023.2\n")
    assert [line.exact for line in read_lines(REQS) if line.name] == [True, False, False, False]


def test_pins_keep_crlf_and_a_missing_final_newline() -> None:
    new = pin_text("numpy\r\nh5py", {"numpy": "1.24.3", "h5py": "2.10.0"}, date="2020-01-01")
    assert new == "numpy==1.24.3\r\nh5py==2.10.0"


def test_pin_changes_say_what_differs_from_today() -> None:
    changes = pin_changes(
        REQS, {"pandas": "2.0.2", "numpy": "1.24.3", "pytz": "2023.3"}, {"pandas": "2.0.2", "numpy": "2.4.6"}
    )
    assert [str(c) for c in changes] == ["numpy 2.4.6 → 1.24.3", "pytz ? → 2023.3"]
    assert changes[0].declared == "" and changes[1].declared == "(pulled in)"


# --- dated resolution and the lock, against a local index with upload times -----------------------


def _index() -> PackageIndex:
    index = PackageIndex()
    index.add("tabular", "2.0.2", requires=["numcore>=1.20"], uploaded="2023-05-29T10:00:00Z")
    index.add("numcore", "1.24.3", uploaded="2023-04-22T10:00:00Z")
    index.add("numcore", "2.4.6", uploaded="2026-02-01T10:00:00Z")
    index.add("plots", "3.7.1", uploaded="2023-03-04T10:00:00Z")
    index.add("plots", "3.11.2", uploaded="2026-03-01T10:00:00Z")
    return index


AS_OF = AsOf(dt.date(2023, 6, 15), DateSource.GIVEN, "test")


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with _index() as served:
        monkeypatch.setenv("PAPERPACK_PIP_INDEX_URL", served.url)
        yield served


def test_dated_resolution_takes_what_existed_then_and_is_cached(index: PackageIndex, tmp_path: Path) -> None:
    text = "tabular==2.0.2\nplots>=3\n"
    got = resolve_as_of(text, AS_OF, "3.11", cache_folder=tmp_path)
    assert got.status is ResolutionStatus.RESOLVED, got.reason
    assert got.versions == {"tabular": "2.0.2", "numcore": "1.24.3", "plots": "3.7.1"}
    assert [str(c) for c in got.changes] == ["numcore 2.4.6 → 1.24.3", "plots 3.11.2 → 3.7.1"]
    assert got.text == f"tabular==2.0.2\nplots==3.7.1\n{MARKER}2023-06-15\nnumcore==1.24.3\n"
    asked = len(index.requests)
    again = resolve_as_of(text, AS_OF, "3.11", cache_folder=tmp_path)
    assert again.cached and again.versions == got.versions and len(index.requests) == asked


def test_a_date_before_any_release_is_said_in_words(index: PackageIndex, tmp_path: Path) -> None:
    early = AsOf(dt.date(2020, 1, 1), DateSource.GIVEN, "test")
    got = resolve_as_of("plots\n", early, "3.11", cache_folder=tmp_path)
    assert got.status is ResolutionStatus.FAILED
    assert got.reason == (
        "no release of plots with a wheel for Python 3.11 had been uploaded to the package index by 2020-01-01"
    )
    assert got.python_note is not None and "3.11" in got.python_note


def test_lock_shows_the_diff_and_writes_only_when_asked(
    index: PackageIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("tabular==2.0.2  # as published\nplots\n")
    assert main(["lock", str(tmp_path), "--as-of", "2023-06-15"]) == 1  # pins differ: exit 1, like a diff
    out = capsys.readouterr().out
    assert "+plots==3.7.1" in out and "+numcore==1.24.3" in out and "numcore 2.4.6 → 1.24.3" in out
    assert (tmp_path / "requirements.txt").read_text() == "tabular==2.0.2  # as published\nplots\n"
    assert main(["lock", str(tmp_path), "--as-of", "2023-06-15", "--write"]) == 0
    assert (tmp_path / "requirements.txt").read_text() == (
        f"tabular==2.0.2  # as published\nplots==3.7.1\n{MARKER}2023-06-15\nnumcore==1.24.3\n"
    )
    assert main(["lock", str(tmp_path), "--as-of", "2023-06-15"]) == 0  # nothing left to change


def test_lock_without_a_date_or_requirements_says_how(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("plots\n")
    assert main(["lock", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no date" in err and "--as-of YYYY-MM-DD" in err
    (tmp_path / "requirements.txt").unlink()
    with pytest.raises(DatedResolutionError, match="no requirements.txt") as raised:
        plan_lock(tmp_path, AS_OF)
    assert "environment.yml, Pipfile, nor a setup.py" in raised.value.message
    assert "the pip section of environment.yml, a Pipfile or a package's dependencies" in str(raised.value.hint)


def test_lock_as_of_off_says_which_date_to_give(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("plots\n")
    assert main(["lock", str(tmp_path), "--as-of", "off"]) == 0
    assert capsys.readouterr().err == (
        "--as-of off: nothing to lock; give --as-of YYYY-MM-DD, or leave --as-of out to pin the versions of the "
        "repository's date\n"
    )
    assert (tmp_path / "requirements.txt").read_text() == "plots\n"


def test_lock_refuses_a_requirements_file_that_is_a_link(index: PackageIndex, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("plots\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").symlink_to(outside)
    with pytest.raises(PaperpackError):
        write_lock(plan_lock(repo, AS_OF))
    assert outside.read_text() == "plots\n"


def test_dated_resolution_leaves_undated_local_wheels_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip does not date files of find-links folders or file:// indexes: a dated resolution must not use them."""
    newer = PackageIndex()
    newer.add("numcore", "2.4.6", uploaded="2026-02-01T10:00:00Z")
    with _index() as served, newer:
        monkeypatch.delenv("PAPERPACK_PIP_INDEX_URL")
        monkeypatch.setenv("PIP_INDEX_URL", served.url)  # pip's own configuration, as a user sets it
        monkeypatch.setenv("PIP_FIND_LINKS", str(newer.write_wheels(tmp_path / "wheels")))
        got = resolve_as_of("numcore\n", AS_OF, "3.11", cache_folder=tmp_path / "cache")
    assert got.status is ResolutionStatus.RESOLVED, got.reason
    assert got.versions == {"numcore": "1.24.3"}


def test_the_dated_section_matches_the_report_schema_and_the_docs() -> None:
    import json

    import jsonschema

    from paperpack.timemachine.drift import RULES
    from paperpack.timemachine.pins import PinChange
    from paperpack.timemachine.rerun import DatedOutcome, DatedRun
    from paperpack.timemachine.resolve import DatedResolution

    root = Path(__file__).resolve().parent.parent
    schema = json.loads((root / "schemas" / "paperpack.report.v1.json").read_text(encoding="utf-8"))
    section = {"$ref": "#/$defs/dated_run", "$defs": schema["$defs"]}
    resolution = DatedResolution(
        AS_OF, "3.11", ResolutionStatus.RESOLVED, changes=[PinChange("numpy", "", "2.4.6", "1.24.3")]
    )
    drift = {"a.ipynb": classify(failure_of(_error("ValueError", "numpy.dtype size changed")))}
    for outcome in DatedOutcome:
        dated = DatedRun(outcome, False, AS_OF, drift, resolution)  # type: ignore[arg-type]
        jsonschema.validate(dated.to_dict(), section)
    reproduced = DatedRun(DatedOutcome.REPRODUCED, False, AS_OF, {}, resolution).to_dict()
    assert reproduced["verdict"] == (
        "not reproduced as declared; reproduced with dependencies as of 2023-06-15 (numpy 2.4.6 → 1.24.3)"
    )
    assert reproduced["paper_class"] == "reproduced with dated dependencies"
    assert DatedRun(DatedOutcome.REPRODUCED, True, AS_OF, {}, resolution).paper_class is None
    doc = (root / "docs" / "time-machine.md").read_text(encoding="utf-8")
    kinds = schema["$defs"]["dated_run"]["properties"]["drift"]["additionalProperties"]["properties"]["kind"]["enum"]
    assert len(RULES) == len(DriftKind)
    for kind in DriftKind:
        assert f"`{kind.value}`" in doc and kind.value in kinds, kind


def test_the_python_of_the_date_for_a_repository_that_declares_none(tmp_path: Path) -> None:
    """Offline base images give 3.9 (bullseye), 3.11 (bookworm), 3.13 (trixie): the dated image takes the
    Python current on the date when its base image is here, else the declared image's, saying why."""
    from paperpack.image.baseimage import base_image_tag
    from paperpack.image.environment import plan_offline
    from paperpack.timemachine.asof import python_of_date
    from paperpack.timemachine.sources import DatedSource, SourceKind, dated_python

    assert [python_of_date(dt.date(*d)) for d in ((2016, 1, 1), (2021, 6, 15), (2023, 6, 15), (2024, 10, 7))] == [
        None,
        "3.9",
        "3.11",
        "3.13",
    ]
    here = {"bookworm", "bullseye"}.__contains__
    june_2021 = dt.date(2021, 6, 15)
    assert dated_python(june_2021, declared="3.11", used="3.11", runtime_file=False, present=here).version == "3.11"
    pick = dated_python(june_2021, declared=None, used="3.11", runtime_file=False, present=here)
    assert pick.version == "3.9" and pick.ask
    assert pick.note == (
        "the repository declares no Python; Python 3.9 was current on 2021-06-15 (the declared image has 3.11)"
    )
    missing = dated_python(june_2021, declared=None, used="3.11", runtime_file=False, present={"bookworm"}.__contains__)
    assert missing.version == "3.11" and not missing.ask
    assert missing.note == (
        "the repository declares no Python; the Python current on 2021-06-15 was 3.9, but its "
        f"base image {base_image_tag('bullseye')} is not on this machine (make it with `sudo "
        "paperpack base-image --release bullseye`): used Python 3.11, the declared image's"
    )
    between = dated_python(dt.date(2022, 3, 1), declared=None, used="3.11", runtime_file=False, present=here)
    assert between.version == "3.11" and "was 3.10, but the offline build does not provide it" in between.note
    same = dated_python(AS_OF.date, declared=None, used="3.11", runtime_file=False, present=here)
    assert same.version == "3.11" and not same.ask and same.note.endswith("and was current on 2023-06-15")
    # the scratch copy asks for it where repo2docker reads it
    source = DatedSource(SourceKind.REQUIREMENTS, "binder/requirements.txt", "numcore\n")
    files = source.scratch_files("numcore==1.24.3\n", "2021-06-15", "3.9")
    assert files == {"binder/requirements.txt": "numcore==1.24.3\n", "binder/runtime.txt": "python-3.9\n"}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert (plan_offline(tmp_path).python, plan_offline(tmp_path).release) == ("3.9", "bullseye")
    envyml = DatedSource(SourceKind.ENVIRONMENT_YML, "environment.yml", "numcore\n")
    assert "- python=3.9\n" in envyml.scratch_files("numcore==1.24.3\n", "2021-06-15", "3.9")["environment.yml"]


def test_every_environment_problem_code_named_by_a_reader_is_a_problem_code() -> None:
    """The codes the ENV checks, the offline build and paperpack lock look for are the producers' own: a
    misspelt string there would silently never match (a blocking problem let through, a rule lost)."""
    from paperpack.checks.environment import _FIXES, _PROBLEM_RULES
    from paperpack.environment.files import ProblemCode
    from paperpack.image.environment import _BLOCKING
    from paperpack.timemachine.envyml import _REFUSED

    codes = {code.value for code in ProblemCode}
    assert set(_PROBLEM_RULES) == codes
    assert set(_FIXES) <= codes and set(_BLOCKING) <= codes and set(_REFUSED) <= codes


def test_a_failed_verdict_read_back_as_a_plain_string_is_still_a_failure() -> None:
    """A run result rebuilt from report.json holds the verdict as a plain string: the dated rerun's
    checks compare by value, so such a notebook still counts as failed (an ``is`` check would miss it)."""
    from paperpack.run.results import NotebookRun, RunResult, Status, Verdict
    from paperpack.timemachine.rerun import DatedOutcome, _outcome, drifted

    error = {"ename": "AttributeError", "evalue": "module 'numpy' has no attribute 'float'", "traceback": []}
    for verdict in (Verdict.FAILED, "failed"):
        nb = NotebookRun("a.ipynb", status=Status.ERROR, verdict=verdict, error=error)  # type: ignore[arg-type]
        result = RunResult("local", "none", None, Path("out"), 1, {}, notebooks=[nb])
        assert list(drifted(result)) == ["a.ipynb"]
        assert _outcome([nb]) is DatedOutcome.NOT_REPRODUCED
    differs = NotebookRun("b.ipynb", status=Status.OK, verdict="differs")  # type: ignore[arg-type]
    assert _outcome([differs]) is DatedOutcome.DIFFERS
