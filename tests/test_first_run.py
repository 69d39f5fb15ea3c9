"""The first `paperpack build` on a machine: each way Docker can be not ready yet (issue 15).

Every path is a real machine state, made with real processes and settings, not a stand-in:

- no daemon: ``DOCKER_HOST`` is a socket nobody listens on;
- a daemon without the buildx plugin: ``DOCKER_CONFIG`` whose ``cli-plugins/docker-buildx``
  is no plugin (the docker client takes the first ``docker-buildx`` it finds, so the
  system's plugin is hidden and ``docker buildx`` is "unknown command", as on bookworm);
- a daemon without the base image and without the means to make one: a base image
  repository that does not exist (``PAPERPACK_BASE_REPOSITORY``), and a PATH without
  debootstrap;
- a daemon that can make it: the same missing base image with debootstrap on PATH, as
  root, from a Debian mirror on loopback that has nothing (``PAPERPACK_DEBIAN_MIRROR``):
  the decision, the note and debootstrap's real request are checked without the minutes
  a real base image takes (``paperpack base-image`` makes the real one in .ci/run).

Each checks the note on stderr, the engine the notebooks ran with (report.json) and the
exit status; auto falls back to the local engine, an explicit ``--engine docker`` or
``--mode offline`` stops with exit 2 and runs nothing.

A real user on a fresh Debian machine, last: paperpack runs as uid 65534 (``setpriv``),
with a home and a cache of its own and Debian's PATH for users (no sbin folders, where
debootstrap is). Outside the socket's group, the daemon refuses it; in the group, it
builds nothing without a base image it has no rights to make. Both run locally, and the
note (and ``paperpack doctor``) names what is missing and the one command that fixes it.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from paperpack.cli.main import main
from tests.conftest import CASES, ROOT, require
from wheelhouse import pip_from, wheelhouse

pytestmark = pytest.mark.slow


def _paper(tmp_path: Path) -> Path:
    """A copy of run-image-found (one notebook printing 42) under a fresh name: no image of it exists."""
    root = tmp_path / f"paper-{uuid.uuid4().hex[:10]}"
    shutil.copytree(CASES / "run-image-found", root)
    return root


def _flat(text: str) -> str:
    return " ".join(text.split())


def _run_report(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "report.json").read_text())["run"])


def _ran_locally(out: Path) -> dict[str, Any]:
    run = _run_report(out)
    assert run["engine"] == "local", run
    assert [nb["verdict"] for nb in run["notebooks"]] == ["same"], run
    return run


@pytest.fixture
def no_buildx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The docker client's config folder shadows the buildx plugin with one that is not a plugin."""
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    fake = plugins / "docker-buildx"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DOCKER_CONFIG", str(plugins.parent))


@pytest.fixture
def no_base_image(monkeypatch: pytest.MonkeyPatch) -> str:
    """paperpack's base images under a repository name no image has."""
    repository = f"paperpack-test-{uuid.uuid4().hex[:10]}/base"
    monkeypatch.setenv("PAPERPACK_BASE_REPOSITORY", repository)
    return f"{repository}:bookworm"


def _path_without(program: str) -> str:
    """PATH without the folders that hold ``program`` (and everything else as it was)."""
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / program).exists()]
    return os.pathsep.join(kept)


def test_no_daemon_runs_locally_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nobody-listens.sock")
    out = tmp_path / "out"
    assert main(["build", str(_paper(tmp_path)), "--out-dir", str(out), "--color", "never"]) == 0
    err = _flat(capsys.readouterr().err)
    run = _ran_locally(out)
    note = run["engine_note"]
    assert note.startswith(
        "no usable container engine (the Docker daemon does not answer: Cannot connect to the "
        f"Docker daemon at unix://{tmp_path}/nobody-listens.sock"
    ), note
    assert "less isolated" in note and note.endswith("`sudo systemctl start docker` enables container builds"), note
    assert _flat(note) in err, err


@pytest.mark.docker
def test_daemon_without_buildx_runs_locally_naming_the_plugin_and_the_command(
    docker: str, no_buildx: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["build", str(_paper(tmp_path)), "--out-dir", str(out), "--color", "never"]) == 0
    err = _flat(capsys.readouterr().err)
    note = _ran_locally(out)["engine_note"]
    assert note.startswith("Docker answers but cannot build images here (the docker buildx plugin is missing"), note
    assert "`sudo apt-get install docker-buildx` enables container builds" in note, note
    assert _flat(note) in err, err


@pytest.mark.docker
@pytest.mark.parametrize("explicit", [["--engine", "docker"], ["--mode", "offline"]], ids=["engine", "mode"])
def test_daemon_without_buildx_explicit_requests_stop(
    docker: str, no_buildx: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], explicit: list[str]
) -> None:
    out = tmp_path / "out"
    assert main(["build", str(_paper(tmp_path)), "--out-dir", str(out), "--color", "never", *explicit]) == 2
    err = _flat(capsys.readouterr().err)
    assert "error: the docker buildx plugin is missing" in err, err
    assert not (out / "report.json").exists(), "nothing may run"


@pytest.mark.docker
def test_no_base_image_and_no_debootstrap_runs_locally_naming_both_commands(
    docker: str, no_base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", _path_without("debootstrap"))
    out = tmp_path / "out"
    assert main(["build", str(_paper(tmp_path)), "--out-dir", str(out), "--color", "never"]) == 0
    err = _flat(capsys.readouterr().err)
    note = _ran_locally(out)["engine_note"]
    assert (
        f"(the base image {no_base_image} is not present and cannot be made here: debootstrap is not installed"
    ) in note, note
    assert "`sudo apt-get install debootstrap && sudo paperpack base-image` enables container builds" in note, note
    assert _flat(note) in err, err

    # asked for explicitly, the offline build cannot be met: exit 2, the reason and the fix, nothing run
    out = tmp_path / "explicit"
    assert main(["build", str(_paper(tmp_path)), "--out-dir", str(out), "--mode", "offline"]) == 2
    err = _flat(capsys.readouterr().err)
    assert (
        f"error: the base image {no_base_image} is not present in the local Docker image store and cannot be "
        "made here: debootstrap is not installed" in err
    ), err
    assert "hint: make it with `sudo apt-get install debootstrap && sudo paperpack base-image`" in err, err
    assert not (out / "report.json").exists()


class _EmptyMirror(http.server.BaseHTTPRequestHandler):
    """A Debian mirror with nothing in it: 404 for every path, each one recorded."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).asked.append(self.path)
        self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def empty_mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    handler = type("Mirror", (_EmptyMirror,), {"asked": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PAPERPACK_DEBIAN_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/debian")
    try:
        yield handler.asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.docker
def test_a_machine_that_can_make_the_base_image_makes_it(
    docker: str, no_base_image: str, empty_mirror: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real probe decides to make it, says so once, and debootstrap really starts (from a loopback mirror)."""
    require(
        shutil.which("debootstrap") is not None and os.geteuid() == 0, "making a base image needs debootstrap and root"
    )
    out = tmp_path / "out"
    assert main(["build", str(_paper(tmp_path)), "--out-dir", str(out), "--color", "never"]) == 2
    err = _flat(capsys.readouterr().err)
    assert (
        f"making the base image {no_base_image} first: it is not present yet and this machine can make it "
        "(debootstrap of Debian bookworm, about a minute; made once, later builds reuse it)"
    ) in err, err
    assert err.count("making the base image") == 1
    assert any(path.startswith("/debian/dists/bookworm/") for path in empty_mirror), empty_mirror
    assert "error: cannot debootstrap Debian bookworm from http://127.0.0.1:" in err, err
    assert not (out / "report.json").exists(), "the notebooks never run without a container when Docker could build"


@pytest.fixture
def made_base(no_base_image: str) -> Iterator[str]:
    """The base image the test makes, removed afterwards (only that tag: the default one is everyone's)."""
    try:
        yield no_base_image
    finally:
        import subprocess

        from paperpack.util.docker import docker_cli

        subprocess.run([docker_cli(), "image", "rm", no_base_image], capture_output=True, timeout=120, check=False)


@pytest.mark.docker
def test_the_base_image_is_made_for_real_once_then_reused(
    docker: str, made_base: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """debootstrap from this machine's mirror (about a minute), then a build that stops at once.

    The repository's apt.txt has a line that removes a package (refused before any build
    step), so the image itself is never built: the base image is all this test makes.
    """
    require(
        shutil.which("debootstrap") is not None and os.geteuid() == 0, "making a base image needs debootstrap and root"
    )
    from paperpack.image.baseimage import RELEASE_LABEL
    from paperpack.util.docker import image_inspect

    root = _paper(tmp_path)
    (root / "apt.txt").write_text("curl-\n")
    assert main(["build", str(root), "--out-dir", str(tmp_path / "out"), "--color", "never"]) == 2
    err = _flat(capsys.readouterr().err)
    assert err.count(f"making the base image {made_base} first") == 1, err
    assert "base image, " in err and "Base system installed successfully" in err, "debootstrap's progress"
    assert "apt.txt" in err and "error:" in err, err
    info = image_inspect(made_base)
    assert info is not None and info["Config"]["Labels"][RELEASE_LABEL] == "bookworm"

    assert main(["build", str(root), "--out-dir", str(tmp_path / "out"), "--color", "never"]) == 2
    err = _flat(capsys.readouterr().err)
    assert "making the base image" not in err and "apt.txt" in err, "made once: the second build reuses it"
    assert image_inspect(made_base)["Id"] == info["Id"]


@pytest.mark.docker
def test_no_run_on_a_daemon_that_cannot_build_is_an_error(
    docker: str, no_buildx: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--no-run asks for the image only: the local engine has nothing to offer, so the reason and the fix."""
    assert main(["build", str(_paper(tmp_path)), "--no-run", "--out-dir", str(tmp_path / "out")]) == 2
    err = _flat(capsys.readouterr().err)
    assert "error: cannot build an image here: the docker buildx plugin is missing" in err, err
    assert "hint: run `sudo apt-get install docker-buildx`" in err, err


@pytest.mark.docker
def test_a_release_the_repository_asks_for_is_no_reason_to_run_locally(
    docker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """runtime.txt asks for Python 3.9 (bullseye), which cannot be made here while bookworm's image is present."""
    from paperpack.image.baseimage import base_image_tag
    from paperpack.util.docker import image_id

    require(image_id(base_image_tag("bookworm")) is not None, "the default base image is missing here")
    require(image_id(base_image_tag("bullseye")) is None, "the bullseye base image exists here")
    monkeypatch.setenv("PATH", _path_without("debootstrap"))
    root = _paper(tmp_path)
    (root / "runtime.txt").write_text("python-3.9\n")
    out = tmp_path / "out"
    assert main(["build", str(root), "--out-dir", str(out), "--color", "never"]) == 2
    err = _flat(capsys.readouterr().err)
    assert "error: the base image paperpack/base:bullseye is not present" in err, err
    assert "The notebooks were not run" in err and not (out / "report.json").exists(), err


#: the user paperpack runs as, and Debian's PATH for users (/etc/profile): no sbin folders
NOBODY = 65534
USER_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
#: ``python -c`` program: this checkout's packages (a site folder: its .pth files too), then paperpack's main
BOOT = (
    "import site, sys; site.addsitedir(sys.argv.pop(1)); from paperpack.cli.main import main; "
    "sys.exit(main(sys.argv[1:]))"
)


@dataclass(frozen=True)
class User:
    """uid 65534 running this checkout's paperpack, with its own home, cache and copy of the paper."""

    python: str
    site: str
    folder: Path
    socket_group: int

    def paperpack(self, *args: str, docker_group: bool, **env: str) -> subprocess.CompletedProcess[str]:
        groups = ["--groups", str(self.socket_group)] if docker_group else ["--clear-groups"]
        environ = {
            "HOME": str(self.folder / "home"),
            "PATH": USER_PATH,
            "LANG": "C.UTF-8",
            "PAPERPACK_CACHE_DIR": str(self.folder / "cache"),
            **env,
        }
        # the loopback services the suite points paperpack at; pip (the local engine's) takes the session's wheels
        environ |= {
            k: v
            for k, v in os.environ.items()
            if k.startswith("PAPERPACK_")
            and k not in ("PAPERPACK_CACHE_DIR", "PAPERPACK_BASE_REPOSITORY", "PAPERPACK_DOCKER")
        }
        environ |= pip_from(self.folder / "wheels")
        return subprocess.run(
            [
                "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                *groups,
                "--",
                self.python,
                "-c",
                BOOT,
                self.site,
                *args,
            ],
            env=environ,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=self.folder,
        )

    def build(self, *extra: str, docker_group: bool, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        out = self.folder / f"out-{uuid.uuid4().hex[:8]}"
        proc = self.paperpack(
            "build",
            str(self.folder / "paper"),
            "--out-dir",
            str(out),
            "--color",
            "never",
            *extra,
            docker_group=docker_group,
            **env,
        )
        return proc, out

    def doctor(self, *, docker_group: bool, **env: str) -> tuple[int, dict[str, Any]]:
        proc = self.paperpack("doctor", "--format", "json", docker_group=docker_group, **env)
        assert proc.returncode in (0, 1), proc.stderr
        checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
        return proc.returncode, {**json.loads(proc.stdout), "checks": checks}


def _installed_for_the_user(python: str, folder: Path) -> tuple[str, str]:
    """A venv in ``folder`` (made with ``python``, one the user may start) holding this checkout's
    paperpack, built and installed from ``folder / "wheels"`` only; its python and its site folder."""
    venv = folder / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300, capture_output=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)],
        check=True,
        timeout=900,
        capture_output=True,
        env={**os.environ, **pip_from(folder / "wheels")},
    )
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for path in (venv, *venv.rglob("*")):
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    return str(venv / "bin" / "python"), site


@pytest.fixture(scope="module")
def nobody(docker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    """A real non-root user; one cache for the module, so the local engine's environment is built once."""
    require(os.geteuid() == 0 and shutil.which("setpriv") is not None, "running as another user needs root and setpriv")
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    require(host.startswith("unix://"), f"the Docker daemon is not on a local socket here ({host})")
    sock = os.stat(host.removeprefix("unix://"))
    require(
        not sock.st_mode & 0o006 and sock.st_gid != NOBODY,
        "the Docker socket here is open to every user: no user is refused",
    )
    folder = Path(tempfile.mkdtemp(prefix="paperpack-nobody-"))
    try:
        for sub in ("home", "cache"):
            (folder / sub).mkdir()
        shutil.copytree(CASES / "run-image-found", folder / "paper")
        shutil.copytree(wheelhouse(tmp_path_factory), folder / "wheels")  # the session's folder is root's only
        for path in (folder, *folder.rglob("*")):
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        site = sysconfig.get_paths()["purelib"]
        version = "%d.%d" % sys.version_info[:2]
        candidates = [os.path.realpath(sys.executable), shutil.which(f"python{version}", path=USER_PATH)]
        user = None
        for python in filter(None, candidates):
            probe = User(python, site, folder, sock.st_gid)
            # the interpreter must be one the user may start again (the local engine makes its venv with it)
            again = subprocess.run(
                [
                    "setpriv",
                    f"--reuid={NOBODY}",
                    f"--regid={NOBODY}",
                    "--clear-groups",
                    "--",
                    python,
                    "-c",
                    "import os, sys; sys.exit(not os.access(sys.executable, os.X_OK))",
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )
            if again.returncode == 0 and probe.paperpack("--version", docker_group=False).returncode == 0:
                user = probe
                break
        if user is None:
            # the checkout or its .venv is not the user's to read (a clone under /root, as CI may make):
            # install this checkout for the user, from its own wheel and the session's wheels
            python = next((p for p in candidates[1:] if p), None)
            require(python is not None, f"no python{version} on a user's PATH ({USER_PATH}) for uid {NOBODY}")
            assert python is not None
            user = User(*_installed_for_the_user(python, folder), folder, sock.st_gid)
            assert user.paperpack("--version", docker_group=False).returncode == 0
        yield user
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.docker
def test_a_user_outside_the_docker_group_runs_locally_and_is_told_to_join_it(nobody: User) -> None:
    proc, out = nobody.build(docker_group=False)
    assert proc.returncode == 0, proc.stderr
    note = _ran_locally(out)["engine_note"]
    sock = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    assert note.startswith(
        f"no usable container engine (the Docker daemon's socket {sock} refuses this user "
        "(nobody): only root and the group docker may use it; a group added takes effect at the "
        "next login): running the notebooks with the local engine — less isolated"
    ), note
    assert note.endswith("; `sudo usermod -aG docker $USER` enables container builds"), note
    assert _flat(note) in _flat(proc.stderr), proc.stderr

    code, doc = nobody.doctor(docker_group=False)
    daemon = doc["checks"]["docker daemon"]
    assert code == 1 and doc["engine"] == "local" and not daemon["ok"], doc
    assert daemon["fix"] == "sudo usermod -aG docker $USER" and "refuses this user (nobody)" in daemon["detail"], daemon
    assert "docker buildx plugin" not in doc["checks"], "nothing is asked of a daemon that refuses the user"


@pytest.mark.docker
def test_a_user_in_the_docker_group_without_a_base_image_runs_locally_naming_the_one_command(nobody: User) -> None:
    """debootstrap is installed (in /usr/sbin, off a user's PATH): what is missing is root, and sudo fixes it."""
    require(
        Path("/usr/sbin/debootstrap").exists() or Path("/sbin/debootstrap").exists(),
        "debootstrap is not installed here",
    )
    repository = f"paperpack-test-{uuid.uuid4().hex[:10]}/base"
    proc, out = nobody.build(docker_group=True, PAPERPACK_BASE_REPOSITORY=repository)
    assert proc.returncode == 0, proc.stderr
    note = _ran_locally(out)["engine_note"]
    assert note.startswith(
        f"Docker answers but cannot build images here (the base image {repository}:bookworm is "
        "not present and cannot be made here: making a base image needs root (debootstrap), and "
        "paperpack runs as a user): running the notebooks with the local engine"
    ), note
    assert note.endswith("; `sudo paperpack base-image` enables container builds"), note
    assert _flat(note) in _flat(proc.stderr), proc.stderr

    # asked for explicitly, the offline build cannot be met: exit 2, the reason and the one command, nothing run
    proc, out = nobody.build("--mode", "offline", docker_group=True, PAPERPACK_BASE_REPOSITORY=repository)
    err = _flat(proc.stderr)
    assert proc.returncode == 2 and not out.exists(), err
    assert (
        "cannot be made here: making a base image needs root" in err
        and "hint: make it with `sudo paperpack base-image`" in err
    ), err

    code, doc = nobody.doctor(docker_group=True, PAPERPACK_BASE_REPOSITORY=repository)
    checks = doc["checks"]
    assert code == 1 and doc["engine"] == "local" and checks["docker daemon"]["ok"], doc
    base = checks["base image bookworm"]
    assert not base["ok"] and base["fix"] == "sudo paperpack base-image", base
    maker = checks["debootstrap (makes base images)"]
    assert maker["detail"] == "making a base image needs root (debootstrap), and paperpack runs as a user", maker
    assert maker["fix"] == "sudo paperpack base-image", maker
    pids = checks["pids cgroup"]
    assert pids["ok"] and not pids["disables"] and not pids["fix"], f"a user's processes have RLIMIT_NPROC: {pids}"
