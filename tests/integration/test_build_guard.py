"""Real builds of hostile repositories whose own code runs during the build (issue 8, item 5).

A paper's ``setup.py`` hunts for the build's secrets (the CA bundle and the proxy's
credentials), the proxy variables and the network, and writes what it finds into the
image, its home folder, the venv and the build log: none of it may get there, and the
package must still be installed with its dependency. Then a ``postBuild`` that starts
processes without end and one that takes memory without end are each stopped by the
build limits, with a message naming the limit and its knob. Every image is removed at the
end; the base image is kept. The hostile steps are bounded (a tree of at most 1023
sleeping processes, 1.5 GB), so that the code before the guard, which they were seen to
pass through unstopped, did not harm the machine either.
"""

from __future__ import annotations

import ast
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from paperpack.errors import BuildError
from paperpack.image import build_image
from paperpack.image.builder import BuildResult
from paperpack.repository.repo import Repo
from paperpack.util.docker import guard_unavailable
from tests.conftest import require
from tests.integration.test_build_docker import SYSTEM_CA, base_image, docker  # noqa: F401 (fixtures)
from tests.integration.test_build_isolation import made, saved_image_contains, sh, write  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker

TOKEN = uuid.uuid4().hex[:12]
PROXY_PASSWORD = f"guard-pw-{TOKEN}"
CA_MARKER = f"guard-ca-{TOKEN}"
STOLEN = f"stolen-{TOKEN}"

#: the paper's setup.py: everything a build step's code could take, written wherever it might stay
THIEF = f'''\
import glob, os
from setuptools import setup
found = {{}}
for path in glob.glob("/run/secrets/*") + [os.environ.get(v) or "/nonexistent"
                                           for v in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")]:
    try:
        found[path] = open(path, errors="replace").read()
    except OSError:
        pass
try:
    parent = open("/proc/1/environ", "rb").read().decode(errors="replace")
except OSError as exc:
    parent = repr(exc)
report = repr({{
    "secrets": found,
    "env": {{k: v for k, v in os.environ.items() if "proxy" in k.lower() or k.startswith(("PIP_", "SSL_"))}},
    "parent": parent,
    "net": {{i: open("/sys/class/net/" + i + "/operstate").read().strip() for i in os.listdir("/sys/class/net")}},
}})
for target in ("/srv/venv/{STOLEN}", os.path.expanduser("~/{STOLEN}"), "/tmp/{STOLEN}"):
    try:
        open(target, "w").write(report)
    except OSError:
        pass
try:
    open("/proc/1/fd/1", "w").write("{STOLEN} " + report + "\\n")  # into the build log
except OSError:
    pass
setup(name="paperpkg", version="1.0", py_modules=["paperpkg"], install_requires=["iniconfig"])
'''


@pytest.fixture(scope="module")
def guarded() -> None:
    why = guard_unavailable()
    require(why is None, f"the build guard cannot run here: {why}")


@pytest.fixture(scope="module")
def thief(
    base_image: str,
    guarded: None,
    made: list[str],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> BuildResult:
    require(SYSTEM_CA.is_file(), f"{SYSTEM_CA} is missing")
    where = tmp_path_factory.mktemp("thief")
    ca = where / "ca.pem"
    ca.write_text(f"# {CA_MARKER}\n" + SYSTEM_CA.read_text())
    repo = write(where / f"thief-{TOKEN}", {"setup.py": THIEF, "paperpkg.py": f"VALUE = 'paperpkg {TOKEN}'\n"})
    proxy = f"http://reviewer:{PROXY_PASSWORD}@127.0.0.1:9"
    with pytest.MonkeyPatch.context() as mp:  # a proxy nothing uses (NO_PROXY=*), whose password must not land
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            mp.setenv(name, proxy)
        mp.setenv("NO_PROXY", "*")
        mp.setenv("no_proxy", "*")
        result = build_image(Repo.open(repo), mode="offline", force=True, ca_bundle=ca)
    made.append(result.image)
    return result


def test_the_papers_package_is_installed_with_its_dependency(thief: BuildResult) -> None:
    out = sh(
        "run",
        "--rm",
        "--network",
        "none",
        thief.image,
        "python",
        "-c",
        "import paperpkg, iniconfig; print(paperpkg.VALUE)",
    ).stdout
    assert f"paperpkg {TOKEN}" in out


def test_the_papers_setup_py_ran_without_secrets_proxy_or_network(thief: BuildResult) -> None:
    text = sh("run", "--rm", "--network", "none", "--entrypoint", "cat", thief.image, f"/srv/venv/{STOLEN}").stdout
    report = ast.literal_eval(text)  # what setup.py saw: it did run
    assert report["secrets"] == {}
    assert not any("proxy" in k.lower() for k in report["env"])
    assert PROXY_PASSWORD not in report["parent"]
    assert report["net"] and all(state == "down" for name, state in report["net"].items() if name != "lo")


def test_no_secret_reaches_the_image_or_the_log(thief: BuildResult, tmp_path: Path) -> None:
    assert thief.log_path is not None
    log = thief.log_path.read_text()
    assert STOLEN in log  # the setup.py did write into the log
    for needle in (PROXY_PASSWORD, CA_MARKER):
        assert needle not in log
        assert needle not in sh("history", "--no-trunc", thief.image).stdout
        assert not saved_image_contains(thief.image, needle, tmp_path)


def _processes_with(needle: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _gone(needle: str) -> bool:
    """Whether every process whose command line holds ``needle`` has ended (killed ones may take a moment)."""
    deadline = 300
    while _processes_with(needle) and deadline:
        subprocess.run(["sleep", "0.1"], check=True)
        deadline -= 1
    return not _processes_with(needle)


def stopped(root: Path, name: str, command: str, **limits: str) -> BuildError:
    """The error of building a repository whose postBuild ``exec``s ``command`` as ``name``, with these
    limits (environment variables), and after checking that none of its processes is left on the host."""
    repo = write(root / name, {"postBuild": f"#!/bin/bash\nexec -a {name} {command}\n"})
    with pytest.MonkeyPatch.context() as mp, pytest.raises(BuildError) as info:
        for var, value in limits.items():
            mp.setenv(var, value)
        build_image(Repo.open(repo), mode="offline", force=True, timeout=300)
    assert _gone(name), f"processes of {name} are still running on the host"
    return info.value


def test_a_postbuild_fork_bomb_is_stopped(base_image: str, guarded: None, tmp_path: Path) -> None:  # noqa: F811
    # a tree of at most 1023 sleeping processes: a fork bomb that ends, should the limit not hold
    err = stopped(
        tmp_path,
        f"bomb-{TOKEN}",
        "bash -c 'b() { if [ $1 -gt 0 ]; then b $(($1 - 1)) & b $(($1 - 1)) & fi; sleep 600; }; b 9'",
        PAPERPACK_BUILD_PIDS="100",
    )
    assert "build process limit of 100 processes" in err.message, err.message
    assert "postBuild" in err.message and "PAPERPACK_BUILD_PIDS" in err.hint


def test_a_postbuild_memory_hog_is_stopped(base_image: str, guarded: None, tmp_path: Path) -> None:  # noqa: F811
    err = stopped(
        tmp_path,
        f"hog-{TOKEN}",
        "python3 -c 'import time; chunks = [b\"x\" * (100 << 20) for _ in range(15)]; time.sleep(600)'",
        PAPERPACK_BUILD_MEMORY="256m",
    )
    assert "build memory limit of 256m" in err.message, err.message
    assert "postBuild" in err.message and "PAPERPACK_BUILD_MEMORY" in err.hint


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperpack.errors import ConfigError
    from paperpack.image.builder import build_limits

    monkeypatch.setenv("PAPERPACK_BUILD_MEMORY", "3g")
    monkeypatch.setenv("PAPERPACK_BUILD_PIDS", "2000")
    limits = build_limits()
    assert (limits.memory, limits.pids, limits.memory_text) == (3 << 30, 2000, "3g")
    assert build_limits("1g", 500).pids == 500
    monkeypatch.setenv("PAPERPACK_BUILD_PIDS", "ten")
    with pytest.raises(ConfigError, match="PAPERPACK_BUILD_PIDS"):
        build_limits()
    monkeypatch.delenv("PAPERPACK_BUILD_PIDS")
    monkeypatch.delenv("PAPERPACK_BUILD_MEMORY")
    assert os.environ.get("PAPERPACK_BUILD_MEMORY") is None and build_limits().pids == 1024
