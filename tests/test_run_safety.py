"""Run-step safety checks that need no kernel: options, output folder, engine choice, container user, mounts,
ignore patterns. (The local engine's environment and venv isolation: tests/test_run_local_isolation.py.)"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nbformat
import pytest

from paperpack.cli.main import main
from paperpack.compare import normalise_text
from paperpack.errors import EngineError, ManifestError, UsageError
from paperpack.repository.manifest import parse_manifest
from paperpack.repository.repo import Repo
from paperpack.run import run_notebooks
from paperpack.run.container import DEFAULT_USER, DockerEngine, bind_mount, container_user
from paperpack.run.engines import default_registry, detect_engine, docker_available
from paperpack.run.venv import minimal_env, reads_repo


def _repo(root: Path, manifest: str, notebooks: tuple[str, ...] = ("a.ipynb",)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel in notebooks:
        nbformat.write(nbformat.v4.new_notebook(), root / rel)
    (root / "paperpack.yml").write_text(manifest)
    return root


SKIPPED = "version: 1\nrun:\n  jobs: 3\nnotebooks:\n  - path: a.ipynb\n    skip: true\n"


@pytest.mark.parametrize(
    "option, value",
    [
        ("--timeout", "-1"),
        ("--timeout", "0"),
        ("--cell-timeout", "-5"),
        ("--pids", "0"),
        ("--jobs", "0"),
        ("--cpus", "0"),
        ("--memory", "lots"),
        ("--memory", "2gb"),
        ("--timeout", "nan"),
    ],
)
def test_bad_numbers_are_usage_errors(
    tmp_path: Path, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path / "repo", SKIPPED)
    assert main(["run", str(repo), "--engine", "local", option, value]) == 2
    assert value in capsys.readouterr().err
    assert not (repo / "paperpack-out").exists(), "nothing may run (or be written) after a bad option"


def test_manifest_jobs_is_honoured_and_the_command_line_wins(tmp_path: Path) -> None:
    repo = Repo.open(_repo(tmp_path / "repo", SKIPPED))
    assert run_notebooks(repo, engine="local", out_dir=tmp_path / "out").jobs == 3
    assert run_notebooks(repo, engine="local", out_dir=tmp_path / "out", jobs=2).jobs == 2


def test_out_dir_that_is_a_file_fails_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "repo", SKIPPED)
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    with pytest.raises(UsageError, match="afile exists and is not a folder") as exc:
        run_notebooks(Repo.open(repo), engine="local", out_dir=afile)
    assert "--out-dir" in (exc.value.hint or "")
    assert main(["run", str(repo), "--engine", "local", "--out-dir", str(afile / "sub")]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err
    assert afile.read_text() == "not a folder\n"


def test_output_folder_inside_the_repository_is_not_a_source(tmp_path: Path) -> None:
    from paperpack.run.runner import skip_entries

    root = _repo(tmp_path / "repo", SKIPPED)
    run_notebooks(Repo.open(root), engine="local", out_dir=root / "results")
    (root / "results" / "executed").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), root / "results" / "executed" / "a.ipynb")
    assert Repo.open(root).notebooks == ["a.ipynb"]
    assert skip_entries(str(root), sorted(os.listdir(root))) == {"results"}  # not copied to the working copy


def test_unwritable_out_dir_fails_before_running(tmp_path: Path) -> None:
    repo = Repo.open(_repo(tmp_path / "repo", SKIPPED))
    with pytest.raises(UsageError, match="cannot create the output folder /proc/paperpack-out"):
        run_notebooks(repo, engine="local", out_dir=Path("/proc/paperpack-out"))  # not even root can
    if os.geteuid() != 0:  # root may write into any folder
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            with pytest.raises(UsageError, match="is not writable"):
                run_notebooks(repo, engine="local", out_dir=locked)
        finally:
            locked.chmod(0o755)


def _fake_docker(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "my-docker"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def test_paperpack_docker_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "calls"
    monkeypatch.setenv("PAPERPACK_DOCKER", str(_fake_docker(tmp_path, f'echo "$@" >> {log}\necho 99.0')))
    assert docker_available() == (True, "99.0")
    assert default_registry().get("docker").available() == (True, "99.0")
    assert log.read_text().startswith("info ")


def test_image_without_docker_is_an_error_not_a_silent_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAPERPACK_DOCKER", str(tmp_path / "no-such-docker"))
    ok, why = docker_available()
    assert not ok and "no-such-docker" in why
    with pytest.raises(EngineError, match="no usable Docker") as exc:
        detect_engine(default_registry(), "paper:1")
    assert "--engine local" in (exc.value.hint or "")
    assert detect_engine(default_registry(), None) == "local"
    repo = _repo(tmp_path / "repo", SKIPPED)
    assert main(["run", str(repo), "--image", "paper:1", "--engine", "auto"]) == 2
    assert "--engine local" in capsys.readouterr().err


def test_failing_daemon_reports_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERPACK_DOCKER", str(_fake_docker(tmp_path, "echo 'cannot connect' >&2; exit 1")))
    ok, why = DockerEngine().available()
    assert not ok and "cannot connect" in why


USERS = {"jovyan": (1000, 100), "root": (0, 0), "toor": (0, 0), "1001": (1001, 1001)}


@pytest.mark.parametrize(
    "configured, expected",
    [
        ("", DEFAULT_USER),
        ("0", DEFAULT_USER),
        ("root", DEFAULT_USER),
        ("0:0", DEFAULT_USER),
        ("root:root", DEFAULT_USER),
        ("root:0", DEFAULT_USER),
        ("0:1000", DEFAULT_USER),
        ("toor", DEFAULT_USER),  # a name whose uid is 0
        ("ghost", DEFAULT_USER),  # a name the image does not know
        ("jovyan", "1000:100"),
        ("jovyan:root", "1000:1000"),
        ("1000:0", "1000:1000"),
        ("1000:1000", "1000:1000"),
        ("1001", "1001:1001"),
        ("1005", "1005:1005"),
        ("1001:50", "1001:50"),
    ],
)
def test_container_user_is_never_root(configured: str, expected: str) -> None:
    assert container_user(configured, USERS.get) == expected


def test_mounts_take_paths_with_colons_and_refuse_commas() -> None:
    assert bind_mount("/tmp/a:b/repo", "/paperpack/repo", readonly=True) == [
        "--mount",
        "type=bind,src=/tmp/a:b/repo,dst=/paperpack/repo,readonly",
    ]
    assert bind_mount(Path("/w"), "/paperpack/work", readonly=False) == [
        "--mount",
        "type=bind,src=/w,dst=/paperpack/work",
    ]
    with pytest.raises(UsageError, match="containing ','") as exc:
        bind_mount("/tmp/a,b", "/x", readonly=True)
    assert "rename" in (exc.value.hint or "")


def test_minimal_environment_drops_secrets() -> None:
    env = minimal_env(
        {
            "PATH": "/bin",
            "HOME": "/h",
            "TMPDIR": "/t",
            "LC_ALL": "C",
            "OMP_NUM_THREADS": "1",
            "GITHUB_TOKEN": "x",
            "MY_SECRET": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "PAPERPACK_REGISTRY_PASSWORD": "x",
            "CONTAINER_ENGINE_REGISTRY_CREDENTIALS": "x",
            "https_proxy": "http://user:pw@proxy:3128",
            "http_proxy": "http://proxy:3128",
        }
    )
    assert env == {
        "PATH": "/bin",
        "HOME": "/h",
        "TMPDIR": "/t",
        "LC_ALL": "C",
        "OMP_NUM_THREADS": "1",
        "http_proxy": "http://proxy:3128",
    }


@pytest.mark.parametrize(
    "text, local",
    [
        ("-e .\n", True),
        (".\n", True),
        ("./pkg\n", True),
        ("--editable=./pkg\n", True),
        ("sub/pkg\n", True),
        ("mypkg @ file:///src/mypkg\n", True),
        ("-r base.txt\n", True),
        ("numpy==1.26\n# ./x\n", False),
        ("git+https://example.org/x.git\n", False),
        ("-e git+https://example.org/x.git#egg=x\n", False),
    ],
)
def test_requirements_reading_the_repo(text: str, local: bool) -> None:
    assert reads_repo(text) is local


def test_invalid_ignore_pattern_is_a_manifest_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "version: 1\ncompare:\n  ignore_patterns:\n    - 'ok'\n    - '(unclosed'\n"
    with pytest.raises(ManifestError, match=r"paperpack.yml:5: compare.ignore_patterns\[1\]: '\(unclosed'") as exc:
        parse_manifest(text)
    assert exc.value.line == 5  # type: ignore[attr-defined]
    nested = "version: 1\nnotebooks:\n  - path: a.ipynb\n    compare:\n      ignore_patterns: ['[a-']\n"
    with pytest.raises(ManifestError, match=r"notebooks\[0\].compare.ignore_patterns\[0\]"):
        parse_manifest(nested)
    repo = _repo(tmp_path / "repo", text)
    main(["validate", str(repo), "--format", "json", "--offline"])
    found = [
        (f["rule"], f["line"]) for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"].startswith("MAN")
    ]
    assert found == [("MAN001", 5)]
    assert main(["run", str(repo), "--engine", "local"]) == 2  # refused before any notebook runs


def test_ignore_patterns_are_compiled_once() -> None:
    from paperpack.compare.normalize import compile_patterns

    compile_patterns.cache_clear()
    for _ in range(3):
        assert normalise_text("keep\nseed=42\n", [r"^seed=\d+"]) == "keep"
    assert compile_patterns.cache_info().misses == 1
