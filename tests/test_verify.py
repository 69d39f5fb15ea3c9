"""``paperpack.verify``: the pipeline as a library call, one report per verification, one cache layout.

The local engine (a real virtual environment and real kernels) runs the notebooks; the
docker variant of the report merging is in tests/integration/test_report_merge_docker.py.
Data is served by a real HTTP server on loopback.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

import paperpack
from conftest import CASES
from conftest_doi import doi_env, doi_server  # noqa: F401  (fixtures)
from datapaper import data_paper
from doiserver import DoiServer
from paperpack.cli.main import main
from paperpack.errors import UsageError
from paperpack.report import Report
from paperpack.report.merge import Section, merge_reports, read_previous
from paperpack.repository.repo import Repo
from paperpack.run import run_notebooks
from paperpack.run.engines import EngineChoice
from paperpack.run.venv import READY_MARKER, venv_dir
from paperpack.util.schemas import validator_for
from paperpack.verify import Observer, RunSettings, Stage, VerifyOptions, verify


def _paper(tmp_path: Path, name: str = "paper") -> Path:
    """run-image-found: one notebook printing 42 (committed output 42), an empty requirements.txt."""
    root = tmp_path / name
    shutil.copytree(CASES / "run-image-found", root)
    return root


def _local(out: Path, **more: Any) -> RunSettings:
    return RunSettings(engine="local", out_dir=out, **more)


class Recorder(Observer):
    """What verify() said, in order."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def validated(self, report: Report) -> None:
        self.said.append(f"validated: {report.verdict()}")

    def engine_chosen(self, choice: EngineChoice) -> None:
        self.said.append(f"engine: {choice.name}")

    def run_started(self) -> None:
        self.said.append("run started")

    def run_finished(self) -> None:
        self.said.append("run finished")


# -- the library call ---------------------------------------------------------------------------


def test_verify_is_a_library_call_with_typed_options_and_result(tmp_path: Path) -> None:
    root = _paper(tmp_path)
    out = tmp_path / "out"
    recorder = Recorder()
    options = paperpack.VerifyOptions(stages=frozenset({Stage.VALIDATE, Stage.RUN}), run=_local(out), progress=recorder)
    result = paperpack.verify(root, options)
    assert result.validation is not None and result.build is None
    assert result.engine is not None and result.engine.name == "local"
    assert result.run is not None and [nb.verdict for nb in result.run.notebooks] == ["same"]
    assert result.complete and result.passed and not result.run_failed
    assert recorder.said == [
        f"validated: {result.validation.verdict()}",
        "engine: local",
        "run started",
        "run finished",
    ]
    written = json.loads((out / "report.json").read_text())
    assert result.report_path == out / "report.json" and written == result.report
    assert list(validator_for("report").iter_errors(written)) == []
    assert written["run"] == result.run.to_dict()  # the run section is the typed result's, as it is
    assert written["findings"] == [f.to_dict() for f in result.findings.sorted()]
    assert "verify" in paperpack.__all__ and "VerifyOptions" in paperpack.__all__


def test_importing_the_library_does_not_load_the_run_or_build_packages() -> None:
    """`import paperpack` (for verify) stays light: the run and build stages load when they start."""
    code = (
        "import sys, paperpack; "
        "print(sorted(m for m in ('paperpack.run', 'paperpack.image', 'requests') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_options_are_checked_when_made() -> None:
    with pytest.raises(UsageError, match="engine 'podman' is not one of auto, docker, local"):
        RunSettings(engine="podman")
    with pytest.raises(UsageError, match="nothing to do"):
        VerifyOptions(stages=frozenset({Stage.VALIDATE, Stage.IMAGE}), run=RunSettings(engine="local"))


def test_a_command_walks_the_repository_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`paperpack build` used to open and walk the repository twice (once itself, once in validate)."""
    walks: list[Path] = []
    walk = Repo._walk

    def counted(self: Repo) -> None:
        walks.append(self.root)
        walk(self)

    monkeypatch.setattr(Repo, "_walk", counted)
    root = _paper(tmp_path)
    assert main(["build", str(root), "--engine", "local", "--out-dir", str(tmp_path / "out"), "-q"]) == 0
    assert walks == [root.resolve()]


# -- the engine policy in the library -----------------------------------------------------------


def test_run_notebooks_auto_goes_through_the_engine_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No Docker daemon is the machine's reason: auto runs locally, and the result says why."""
    monkeypatch.setenv("PAPERPACK_DOCKER", str(tmp_path / "no-such-docker"))
    result = run_notebooks(Repo.open(_paper(tmp_path)), out_dir=tmp_path / "out")
    assert result.engine == "local"
    assert result.engine_note and result.engine_note.startswith("no usable Docker (")
    assert result.to_dict()["engine_note"] == result.engine_note


@pytest.mark.docker
def test_run_notebooks_auto_refuses_local_for_a_reason_of_the_repository(docker: str, tmp_path: Path) -> None:
    """With Docker but no image for this state, the library stops as the CLI does (it used to run locally)."""
    from paperpack.image.baseimage import DEFAULT_RELEASE, base_image_tag
    from paperpack.util.docker import image_id, preflight
    from tests.conftest import require

    try:
        preflight(buildx=True)
    except Exception as exc:  # noqa: BLE001 - the machine cannot build: another test's case
        require(False, f"no image can be built here: {exc}")
    require(image_id(base_image_tag(DEFAULT_RELEASE)) is not None, "no base image: run `paperpack base-image`")
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="no image for this state of the repository"):
        run_notebooks(Repo.open(_paper(tmp_path, f"paper-{tmp_path.name[-8:]}")), out_dir=out)
    assert not out.exists(), "nothing ran"


# -- one report per verification ------------------------------------------------------------------


def _warned(tmp_path: Path) -> Path:
    """A paper with a validation warning or more, so that a report without validation shows."""
    root = _paper(tmp_path)
    (root / "paperpack.yml").write_text("version: 1\n")
    return root


def test_run_after_build_keeps_the_validation_of_build(tmp_path: Path) -> None:
    """`paperpack run` used to overwrite build's report.json: findings gone, summary "clean"."""
    root = _warned(tmp_path)
    out = tmp_path / "out"
    assert main(["build", str(root), "--engine", "local", "--out-dir", str(out), "-q"]) == 0
    built = json.loads((out / "report.json").read_text())
    assert built["findings"], "the case must have findings for this test to mean anything"
    assert main(["run", str(root), "--engine", "local", "--out-dir", str(out), "-q"]) == 0
    after = json.loads((out / "report.json").read_text())
    assert after["findings"] == built["findings"] and after["summary"] == built["summary"]
    assert after["run"]["engine"] == "local" and after["created"] >= built["created"]
    assert after["dropped"] is None
    assert list(validator_for("report").iter_errors(after)) == []


def _report(
    root: Path,
    *,
    commit: str | None = "c1",
    build: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
    complete: bool = True,
) -> dict[str, Any]:
    report = Report(root=root, commit=commit, build=build, run=run, complete=complete)
    return report.to_dict()


def _run_section(image: str | None, engine: str = "docker", complete: bool = True) -> dict[str, Any]:
    return {
        "engine": engine,
        "isolation": "container",
        "image": image,
        "complete": complete,
        "failed": False,
        "summary": "1/1 notebooks ran to the end",
        "notebooks": [],
    }


def test_a_new_build_drops_a_run_of_another_image_and_says_why(tmp_path: Path) -> None:
    earlier = _report(tmp_path, build={"image": "p/x:old"}, run=_run_section("p/x:old"))
    now = _report(tmp_path, build={"image": "p/x:new"})
    merged = merge_reports(earlier, now, {Section.VALIDATION, Section.BUILD})
    assert merged["run"] is None and merged["build"] == {"image": "p/x:new"}
    assert "ran in the image p/x:old" in merged["dropped"]["run"] and "p/x:new" in merged["dropped"]["run"]
    assert list(validator_for("report").iter_errors(merged)) == []
    local = merge_reports(_report(tmp_path, run=_run_section(None, "local")), now, {Section.BUILD})
    assert local["run"] is None and "with the local engine" in local["dropped"]["run"]


def test_a_build_of_the_image_the_run_used_keeps_the_run(tmp_path: Path) -> None:
    earlier = _report(tmp_path, build={"image": "p/x:1"}, run=_run_section("p/x:1", complete=False), complete=False)
    merged = merge_reports(earlier, _report(tmp_path, build={"image": "p/x:1"}), {Section.BUILD})
    assert merged["run"] == earlier["run"] and merged["dropped"] is None
    assert merged["complete"] is False, "a kept interrupted run keeps the report incomplete"


def test_a_report_of_another_commit_is_not_merged(tmp_path: Path) -> None:
    earlier = _report(tmp_path, commit="c1", build={"image": "p/x:1"})
    merged = merge_reports(earlier, _report(tmp_path, commit="c2", run=_run_section("p/x:1")), {Section.RUN})
    assert merged["build"] is None
    assert merged["dropped"] == {"build": "the earlier report was for commit c1, this one is for c2"}


def test_a_report_the_repository_carries_is_never_read_back(tmp_path: Path) -> None:
    """A hostile repository may commit paperpack-out/report.json claiming a build: it is not merged."""
    root = _paper(tmp_path)
    out = root / "paperpack-out"
    out.mkdir()
    fake = _report(root.resolve(), build={"image": "evil/claimed:1"})
    (out / "report.json").write_text(json.dumps(fake))
    assert read_previous(out / "report.json", root.resolve()) == fake  # not committed: paperpack's own
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-f", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "paper"], check=True)
    assert read_previous(out / "report.json", root.resolve()) is None
    assert read_previous(out / "report.json", tmp_path) is None  # another repository folder


# -- one cache layout ------------------------------------------------------------------------------


def test_cache_dir_and_the_variable_name_the_same_data(
    tmp_path: Path, doi_env: DoiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data fetch --cache-dir X` used to fill X/sha256 while PAPERPACK_CACHE_DIR=X means X/data/sha256."""
    paper = data_paper(tmp_path, doi_env)
    root, payload = paper.root, paper.payload
    cache = tmp_path / "cache"
    assert main(["data", "fetch", str(root), "--cache-dir", str(cache), "-q"]) == 0
    assert (cache / "data" / "sha256" / hashlib.sha256(payload).hexdigest()).read_bytes() == payload
    capsys.readouterr()
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(cache))
    assert main(["data", "status", str(root)]) == 0
    assert "cached" in capsys.readouterr().out
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert main(["data", "status", str(root)]) == 1, "another cache folder has nothing"
    assert main(["data", "status", str(root), "--cache-dir", str(cache)]) == 0


def test_run_and_verify_find_data_fetched_into_cache_dir(
    tmp_path: Path, doi_env: DoiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fetched with --cache-dir; `paperpack run --cache-dir` and verify(cache_dir=) mount it, no network."""
    root = data_paper(tmp_path, doi_env).root
    cache = tmp_path / "given-cache"  # not the folder PAPERPACK_CACHE_DIR names (doi_env sets it)
    assert main(["data", "fetch", str(root), "--cache-dir", str(cache), "-q"]) == 0
    sent = doi_env.count
    code = main(
        [
            "run",
            str(root),
            "--engine",
            "local",
            "--cache-dir",
            str(cache),
            "--out-dir",
            str(tmp_path / "o"),
            "--allow-differs",
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    executed = nbformat.read(tmp_path / "o" / "executed" / "read.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "3"
    result = verify(
        root,
        VerifyOptions(
            stages=frozenset({Stage.DATA, Stage.RUN}), cache_dir=cache, run=_local(tmp_path / "o2", allow_differs=True)
        ),
    )
    assert result.run is not None and result.run.notebooks[0].verdict != "failed"
    assert doi_env.count == sent, "the data was found in the cache"
    # the local engine's environment lives under --cache-dir too, one for both commands
    made = sorted(p for p in (cache / "venvs").glob("*") if p.is_dir())
    assert len(made) == 1 and (made[0] / READY_MARKER).is_file(), f"environments under --cache-dir: {made}"
    assert venv_dir(root, cache=cache) == made[0]
