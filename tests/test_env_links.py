"""Environment files are read inside the repository only: a link out of it is named, never followed or quoted.

Each case links runtime.txt, apt.txt or environment.yml (and the other files repo2docker
reads) to a host file holding a secret, then asks validate, the offline build plan, the
buildpack and ``paperpack run`` about the repository: every answer names the file and
where the link points, and the secret is in none of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paperpack.environment import detect
from paperpack.errors import ConfigError, EnvironmentFileError
from paperpack.image.environment import check_environment_files, plan_offline
from paperpack.repository.files import read_repo_text, resolve_repo_path
from paperpack.validate import validate

SECRET = "HOSTFILE-SECRET-7d1f"
#: host-file content that parses as each file would (so that a reader that follows the link goes on and quotes it)
CONTENT = {
    "runtime.txt": f"{SECRET}\n",
    "apt.txt": f"{SECRET}\n",
    "environment.yml": f"dependencies:\n  - {SECRET}::x=1\n  - 'y {SECRET}'\n",
    "requirements.txt": f"{SECRET}!!\n",
    "Dockerfile": f"{SECRET}\n",
}


def linked_repo(tmp_path: Path, name: str, *, binder: bool = False) -> Path:
    host = tmp_path / "host" / name
    host.parent.mkdir(parents=True)
    host.write_text(CONTENT[name])
    repo = tmp_path / "repo"
    where = repo / "binder" if binder else repo
    where.mkdir(parents=True)
    (where / name).symlink_to(host)
    return repo


def secret_free(*texts: object) -> None:
    for text in texts:
        assert SECRET not in str(text), text


@pytest.mark.parametrize("name", sorted(CONTENT))
def test_validate_names_the_link_and_never_its_content(tmp_path: Path, name: str) -> None:
    repo = linked_repo(tmp_path, name)
    report = validate(repo, offline=True, resolve_dois=False)
    found = [f for f in report.findings if f.rule == "ENV010" and f.path == name]
    assert found, [f.to_dict() for f in report.findings]
    assert "symbolic link" in found[0].message and str(tmp_path / "host" / name) in found[0].message
    secret_free(json.dumps(report.to_dict(), default=str))


@pytest.mark.parametrize("name", ["runtime.txt", "environment.yml", "apt.txt", "requirements.txt", "Dockerfile"])
@pytest.mark.parametrize("binder", [False, True])
def test_the_build_refuses_the_link_before_reading_it(tmp_path: Path, name: str, binder: bool) -> None:
    repo = linked_repo(tmp_path, name, binder=binder)
    rel = f"binder/{name}" if binder else name
    with pytest.raises(EnvironmentFileError) as info:
        plan_offline(repo, allow_substitution=True)
    err = info.value
    assert err.message.startswith(f"{rel}: is a symbolic link to {tmp_path / 'host' / name}")
    assert "outside the repository" in err.message and "replace the link" in err.hint
    secret_free(err.message, err.hint)


def test_the_buildpack_reads_apt_txt_through_the_safe_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperpack.image.buildpack import offline_buildpack

    repo = linked_repo(tmp_path, "apt.txt")
    monkeypatch.chdir(repo)
    bp = offline_buildpack()(base_image="paperpack/base:bookworm")  # type: ignore[call-arg]
    with pytest.raises(EnvironmentFileError) as info:
        bp._apt_packages()
    secret_free(info.value.message)


def test_a_linked_binder_folder_is_refused(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "runtime.txt").write_text(CONTENT["runtime.txt"])
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "binder").symlink_to(host)
    with pytest.raises(EnvironmentFileError, match="binder is a symbolic link"):
        plan_offline(repo)
    assert [(p.code, p.path) for p in detect(repo).problems] == [("link-outside", "binder")]


def test_run_reports_the_link_without_its_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``paperpack run`` once quoted the host file in its engine note and in report.json."""
    from paperpack.cli.main import main

    repo = linked_repo(tmp_path, "runtime.txt")
    out = tmp_path / "out"
    main(["run", str(repo), "--out-dir", str(out), "--format", "json"])
    captured = capsys.readouterr()
    secret_free(captured.out, captured.err)
    for path in out.rglob("*"):
        if path.is_file():
            secret_free(path.read_text(errors="replace"))


def test_links_inside_the_repository_are_followed(tmp_path: Path) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "runtime.txt").write_text("python-3.13\n")
    (tmp_path / "runtime.txt").symlink_to("env/runtime.txt")
    (tmp_path / "env" / "up").symlink_to("..")
    assert plan_offline(tmp_path).python == "3.13"
    assert read_repo_text(tmp_path, "env/up/env/up/runtime.txt") == "python-3.13\n"
    assert resolve_repo_path(tmp_path, "runtime.txt").real == "env/runtime.txt"
    assert check_environment_files(tmp_path) == ["runtime.txt"]


@pytest.mark.parametrize(
    "target, why",
    [
        ("../host.txt", "is a symbolic link to ../host.txt, outside"),
        ("env/../../host.txt", "is a symbolic link to env/../../host.txt, outside"),
        ("missing.txt", "which does not exist"),
        ("runtime.txt", "loop of symbolic links"),
    ],
)
def test_links_that_leave_or_lead_nowhere(tmp_path: Path, target: str, why: str) -> None:
    repo = tmp_path / "repo"
    (repo / "env").mkdir(parents=True)
    (tmp_path / "host.txt").write_text(SECRET)
    (repo / "runtime.txt").symlink_to(target)
    with pytest.raises(EnvironmentFileError) as info:
        read_repo_text(repo, "runtime.txt")
    assert why in info.value.message and info.value.path == Path("runtime.txt")
    secret_free(info.value.message)


def test_a_link_in_the_middle_of_the_path_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "requirements.txt").write_text(SECRET)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "env").symlink_to(tmp_path / "host")
    with pytest.raises(EnvironmentFileError, match="env/requirements.txt: is a symbolic link to /"):
        read_repo_text(repo, "env/requirements.txt")


def test_pipes_folders_and_huge_files_are_not_environment_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "apt.txt")  # opening a pipe would block for ever
    (tmp_path / "runtime.txt").mkdir()
    (tmp_path / "requirements.txt").write_bytes(b"x" * 100)
    with pytest.raises(EnvironmentFileError, match="not a regular file"):
        read_repo_text(tmp_path, "apt.txt")
    with pytest.raises(EnvironmentFileError, match="is a folder"):
        read_repo_text(tmp_path, "runtime.txt")
    with pytest.raises(EnvironmentFileError, match="larger than"):
        read_repo_text(tmp_path, "requirements.txt", limit=10)
    assert isinstance(EnvironmentFileError("x"), ConfigError)  # exit code 2, like every configuration error


def test_the_local_engine_refuses_a_linked_requirements_txt(tmp_path: Path) -> None:
    """pip once read the host file through the link, and its error quoted it."""
    from paperpack.run.venv import ensure_venv, venv_dir

    repo = linked_repo(tmp_path, "requirements.txt")
    with pytest.raises(EnvironmentFileError) as info:
        venv_dir(repo)
    with pytest.raises(EnvironmentFileError):
        ensure_venv(repo)
    assert info.value.path == Path("requirements.txt")
    secret_free(info.value.message)
