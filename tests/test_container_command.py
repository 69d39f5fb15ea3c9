"""The docker engine's ``docker run`` command, read flag by flag (no Docker needed).

Every isolation flag and limit value, which mounts are read-only, the version-control
metadata hidden at any depth, the image's VOLUMEs replaced by size-limited tmpfs, the
owner label the sweep reads. Docker tests that look from inside a container:
tests/integration/test_container_isolation.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from paperpack.errors import UsageError
from paperpack.repository.repo import Repo
from paperpack.run.container import IN_REPO, IN_WORK, MAX_HIDDEN, DockerEngine, vcs_metadata
from paperpack.run.engines import Batch, Session
from paperpack.run.plan import Limits, PlannedNotebook
from paperpack.run.sweep import OWNER_LABEL, Owner, current_owner

#: every flag the command may hold; anything else (--privileged, --cap-add, --network host, -v …) fails the test
KNOWN_FLAGS = {
    "--name",
    "--label",
    "--network",
    "--user",
    "--cap-drop",
    "--security-opt",
    "--memory",
    "--memory-swap",
    "--pids-limit",
    "--cpus",
    "--read-only",
    "--tmpfs",
    "--mount",
    "-e",
    "-i",
}  # -i: the spec and results travel over stdin/stdout (run/channel.py)
TAKES_VALUE = KNOWN_FLAGS - {"--read-only", "-i"}
FAKE_TOKEN = "ghs_FAKEtokenFromActionsCheckout0000"


def _hostile_repo(root: Path) -> Path:
    """A repository whose version-control metadata holds a token, at several depths and in several forms."""
    root.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), root / "a.ipynb")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f"[http]\n\textraheader = AUTHORIZATION: basic {FAKE_TOKEN}\n")
    (root / "vendor" / "lib" / ".git").mkdir(parents=True)
    (root / "vendor" / "lib" / ".git" / "config").write_text(FAKE_TOKEN)
    (root / "sub").mkdir()
    (root / "sub" / ".git").write_text("gitdir: ../.git/modules/sub\n")  # a submodule's .git file
    (root / "old" / ".hg").mkdir(parents=True)
    (root / "old" / ".svn").mkdir()
    (root / "gitlink").symlink_to(".git")  # reaches the hidden folder through its mount
    return root


def _parse(cmd: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(flag, value) pairs up to the image, and what follows (image, command)."""
    assert cmd[1] == "run"
    pairs: list[tuple[str, str | None]] = []
    i = 2
    while cmd[i].startswith("-"):
        flag = cmd[i]
        assert flag in KNOWN_FLAGS, f"unexpected flag {flag} in {cmd}"
        if flag in TAKES_VALUE:
            pairs.append((flag, cmd[i + 1]))
            i += 2
        else:
            pairs.append((flag, None))
            i += 1
    return pairs, cmd[i:]


def _mounts(pairs: list[tuple[str, str | None]]) -> dict[str, dict[str, str]]:
    """--mount values by destination, as {field: value} (``readonly`` → "")."""
    out = {}
    for flag, value in pairs:
        if flag != "--mount":
            continue
        assert value is not None
        fields = dict((part.split("=", 1) + [""])[:2] for part in value.split(","))
        assert fields["dst"] not in out, f"two mounts on {fields['dst']}"
        out[fields["dst"]] = fields
    return out


@pytest.fixture
def command(tmp_path: Path) -> tuple[list[str], DockerEngine]:
    repo = Repo.open(_hostile_repo(tmp_path / "repo"))
    data = tmp_path / "data.csv"
    data.write_text("x\n")
    limits = Limits(timeout=60, cell_timeout=30, memory="256m", pids=64, cpus=1.5, disk="64m")
    session = Session(
        repo=repo,
        work_dir=tmp_path / "work",
        limits=limits,
        jobs=1,
        image="some/image:tag",
        data=[(data, "data/x.csv")],
    )
    batch = Batch(number=0, notebooks=[PlannedNotebook(path="a.ipynb")], keys={"a.ipynb": "nb000"})
    engine = DockerEngine()
    engine.user = "1000:100"
    engine.volume = "paperpack-work-0123456789ab"  # what prepare() makes
    engine.image_volumes = ["/home/jovyan/vol"]  # what prepare() reads from the image's VOLUMEs
    return engine.command(session, batch, "paperpack-run-test"), engine


def test_every_isolation_flag_and_limit(command: tuple[list[str], DockerEngine]) -> None:
    pairs, rest = _parse(command[0])
    assert rest[:2] == ["some/image:tag", "python3"]
    values = {flag: [v for f, v in pairs if f == flag] for flag in KNOWN_FLAGS}
    assert values["--name"] == ["paperpack-run-test"], "the name the run stops and removes it by"
    assert values["--network"] == ["none"]
    assert values["--cap-drop"] == ["ALL"]
    assert values["--security-opt"] == ["no-new-privileges"]
    assert values["--user"] == ["1000:100"]
    assert values["--memory"] == ["256m"] and values["--memory-swap"] == ["256m"], "no swap beyond the memory limit"
    assert values["--pids-limit"] == ["64"]
    assert values["--cpus"] == ["1.5"]
    assert ("--read-only", None) in pairs, "the image's files (and $HOME) must be read-only: no unbounded disk writes"
    tmpfs = dict((value or "").split(":", 1) for value in values["--tmpfs"])
    assert set(tmpfs) == {"/tmp", "/home/jovyan/vol"}, "/tmp and the image's VOLUME: memory-backed, size-limited"
    assert f"size={64 * 1024**2}" in tmpfs["/tmp"].split(",")
    assert set(tmpfs["/home/jovyan/vol"].split(",")) >= {f"size={64 * 1024**2}", "uid=1000", "gid=100"}
    labels = values["--label"]
    assert "paperpack.run=1" in labels
    [owner] = [label.split("=", 1)[1] for label in labels if label and label.startswith(OWNER_LABEL + "=")]
    assert Owner.parse(owner) == current_owner()


def test_mounts_are_read_only_except_the_bounded_ones(command: tuple[list[str], DockerEngine], tmp_path: Path) -> None:
    mounts = _mounts(_parse(command[0])[0])
    writable = {dst for dst, fields in mounts.items() if "readonly" not in fields}
    # the only writable mount is the working copy, a size-limited volume (results come back on stdout)
    assert writable == {IN_WORK}
    assert mounts[IN_REPO] == {"type": "bind", "src": str(tmp_path / "repo"), "dst": IN_REPO, "readonly": ""}
    assert mounts["/paperpack/runner.py"]["type"] == "bind" and "readonly" in mounts["/paperpack/runner.py"]
    assert "readonly" in mounts["/paperpack/kernelfork.py"]
    assert mounts["/paperpack/data/0"] == {
        "type": "bind",
        "src": str(tmp_path / "data.csv"),
        "dst": "/paperpack/data/0",
        "readonly": "",
    }
    assert mounts[IN_WORK] == {"type": "volume", "src": "paperpack-work-0123456789ab", "dst": IN_WORK}


def test_version_control_metadata_is_hidden_at_every_depth(command: tuple[list[str], DockerEngine]) -> None:
    mounts = _mounts(_parse(command[0])[0])
    for rel in (".git", "vendor/lib/.git", "old/.hg", "old/.svn"):  # folders: an empty tmpfs nobody can write
        assert mounts[f"{IN_REPO}/{rel}"] == {
            "type": "tmpfs",
            "dst": f"{IN_REPO}/{rel}",
            "tmpfs-size": "4096",
            "readonly": "",
        }, rel
    assert mounts[f"{IN_REPO}/sub/.git"] == {
        "type": "bind",
        "src": "/dev/null",
        "dst": f"{IN_REPO}/sub/.git",
        "readonly": "",
    }
    assert f"{IN_REPO}/gitlink" not in mounts, "a symbolic link is not mounted over (its target is hidden)"


def test_vcs_listing_does_not_follow_links_and_refuses_too_many(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "outside"
    (outside / ".git").mkdir(parents=True)
    (root / "linked").symlink_to(outside)
    (root / ".git").symlink_to(outside / ".git")
    assert vcs_metadata(root) == []
    for i in range(MAX_HIDDEN + 1):
        (root / f"p{i}" / ".git").mkdir(parents=True)
    with pytest.raises(UsageError, match=f"holds {MAX_HIDDEN + 1} version-control") as exc:
        vcs_metadata(root)
    assert "git archive" in (exc.value.hint or "")


def test_a_batch_before_prepare_is_refused(tmp_path: Path) -> None:
    repo = Repo.open(_hostile_repo(tmp_path / "repo"))
    session = Session(repo=repo, work_dir=tmp_path / "work", limits=Limits().resolved({}, 1), jobs=1, image="x")
    batch = Batch(number=0, notebooks=[], keys={})
    with pytest.raises(Exception, match="before prepare"):
        DockerEngine().command(session, batch, "paperpack-run-x")


def test_disk_limit_from_the_manifest_and_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from paperpack.cli.main import main

    assert Limits().resolved({}, 1).disk == "4g"
    assert Limits().resolved({"disk": "8g"}, 1).disk == "8g"
    assert Limits(disk="1g").resolved({"disk": "8g"}, 1).disk == "1g"
    assert Limits(disk="1g").to_dict()["disk"] == "1g"
    root = tmp_path / "repo"
    root.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), root / "a.ipynb")
    (root / "paperpack.yml").write_text("version: 1\nrun:\n  disk: lots\n")
    assert main(["validate", str(root), "--offline"]) == 1
    assert "run.disk: 'lots' is not a size such as 4g or 512m" in capsys.readouterr().out
    assert main(["run", str(root), "--engine", "local", "--disk", "2gb"]) == 2
    assert not (root / "paperpack-out").exists()


def test_messages_name_the_disk_limit() -> None:
    from paperpack.run.outcome import interpret

    nb = PlannedNotebook(path="big.ipynb")
    limits = Limits().resolved({}, 1)
    error = {"kind": "cell-error", "cell": 2, "ename": "OSError", "evalue": "[Errno 28] No space left on device"}
    result = {"status": "error", "error": error}
    run = interpret(nb, result, {"disk_limit": "64m"}, limits, False)
    assert run.message == (
        "cell 3: OSError: [Errno 28] No space left on device — the notebook wrote more than 64m "
        "(the limit on the working folder, shared by the run's notebooks, and on /tmp): "
        "raise run.disk in paperpack.yml or --disk"
    )
    assert "run.disk" not in interpret(nb, result, {}, limits, False).message, "the local engine has no such limit"
    readonly = {"status": "error", "error": {**error, "evalue": "[Errno 30] Read-only file system: '/home/x'"}}
    assert "only the working folder" in interpret(nb, readonly, {"disk_limit": "64m"}, limits, False).message
    copy = interpret(
        nb,
        None,
        {
            "disk_limit": "64m",
            "exit_code": 1,
            "output": "OSError: [Errno 28] No space left on device: '/paperpack/work/d.bin'",
        },
        limits,
        False,
    )
    assert "working copy does not fit in the disk limit (64m)" in copy.message


def test_the_holder_of_the_working_copy_is_locked_down_with_room_for_runcs_init(
    command: tuple[list[str], DockerEngine], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The idle container that keeps the working copy's volume mounted runs the image's python3: no network, no
    capabilities, read-only, small limits; its process limit leaves runc's init its threads (4 was once refused)."""
    import subprocess

    from paperpack.run import container

    seen: list[tuple[str, ...]] = []

    def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        seen.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(container, "_docker", docker)
    engine = command[1]
    session = Session(repo=Repo.open(tmp_path / "repo"), work_dir=tmp_path / "w", limits=Limits(), jobs=1, image="i:t")
    name = engine.hold(session, "paperpack-work-0123456789ab")
    [args] = seen
    flags = list(args[2:])
    at = flags.index("--entrypoint")
    assert flags[at + 1] == "python3", flags  # the image's Python, idle
    del flags[at : at + 2]
    pairs, rest = _parse(["docker", "run", *flags])
    values = {flag: [v for f, v in pairs if f == flag] for flag in KNOWN_FLAGS}
    assert args[:2] == ("run", "-d") and values["--name"] == [name] and name.startswith("paperpack-run-hold-")
    assert values["--network"] == ["none"] and values["--cap-drop"] == ["ALL"] and ("--read-only", None) in pairs
    assert values["--memory"] == ["64m"] and values["--memory-swap"] == ["64m"] and values["--cpus"] == ["0.1"]
    assert values["--pids-limit"] == [str(container.HOLD_PIDS)] and 16 <= container.HOLD_PIDS <= 64
    assert values["--mount"] == [f"type=volume,src=paperpack-work-0123456789ab,dst={IN_WORK}"]
    assert rest == ["i:t", "-c", "import signal; signal.pause()"]
