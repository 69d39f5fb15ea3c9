"""Whether this machine can build a repository's image now, what it lacks, and the command that fixes it.

``paperpack build --engine auto`` asks this once a Docker daemon answers: with the
buildx plugin and the base image, it builds; with the buildx plugin and a base image
paperpack can make here (debootstrap, root, a Debian mirror), it makes the base image
first; else the notebooks run with the local engine, and the note names what is missing
and the one command that enables container builds. ``paperpack doctor`` shows the same
pieces. A base image the repository's paperpack.yml names is the repository's choice,
never the machine's: it is not reported here (the build then says it is missing); so is
another release than the default one its runtime.txt asks for, when the default one is
here (as in :func:`~paperpack.run.engines.choose_engine`): a repository cannot get its
code run without a container by asking for a base image this machine cannot make.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import re
import shutil
from dataclasses import dataclass

from ..errors import PaperpackError
from ..repository.repo import Repo
from ..util import docker as engine
from .baseimage import DEFAULT_RELEASE, base_image_tag, maker_problem

__all__ = ["BUILDX_FIX", "Readiness", "buildx_problem", "daemon_readiness", "readiness"]

log = logging.getLogger(__name__)

#: what installs the buildx plugin (Debian trixie and later, Ubuntu; for bookworm see docs/build.md)
BUILDX_FIX = "sudo apt-get install docker-buildx"
#: the socket the docker client talks to when DOCKER_HOST names none
DEFAULT_SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True)
class Readiness:
    """What a build of one repository needs from this machine (a Docker daemon answers)."""

    problem: str = ""  # why no image can be built here ("": one can)
    fix: str = ""  # the one command that enables container builds
    make_base: str | None = None  # the base image to make before the build (this machine can make it)
    release: str | None = None  # its Debian release

    @property
    def can_build(self) -> bool:
        return not self.problem


def buildx_problem() -> str:
    """ "" when ``docker buildx`` answers, else why not (the client's own words)."""
    proc = engine.run(
        [engine.docker_cli(), "buildx", "version"], what="find the buildx plugin", check=False, timeout=30
    )
    if proc.returncode == 0:
        return ""
    said = next((line.strip() for line in (proc.stderr or proc.stdout or "").splitlines() if line.strip()), "")
    return "the docker buildx plugin is missing" + (f"; docker says: {said}" if said else "")


def daemon_readiness(why: str) -> Readiness:
    """Why no Docker daemon is usable here, in words, and the one command that fixes it.

    ``why`` is what :func:`~paperpack.run.engines.docker_available` said. A daemon whose
    socket refuses this user (the docker client says "permission denied") needs the user
    in the socket's group, never a start.
    """
    if shutil.which(engine.docker_cli()) is None:
        return Readiness(why, "sudo apt-get install docker.io")
    if "permission denied" not in why.lower() or "socket" not in why.lower():
        return Readiness(why, "sudo systemctl start docker")
    named = re.search(r"unix://(/[^\s\"]+?)(?=[:\s\"]|$)", why)
    host = os.environ.get("DOCKER_HOST", "")
    socket = named.group(1) if named else host.removeprefix("unix://") if host.startswith("unix://") else DEFAULT_SOCKET
    try:
        group = grp.getgrgid(os.stat(socket).st_gid).gr_name
    except (OSError, KeyError):
        group = "docker"
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = f"uid {os.getuid()}"
    return Readiness(
        f"the Docker daemon's socket {socket} refuses this user ({user}): only root and the group "
        f"{group} may use it; a group added takes effect at the next login",
        f"sudo usermod -aG {group} $USER",
    )


def readiness(repo: Repo, mode: str = "auto", allow_substitution: bool | None = None) -> Readiness:
    """What stops (or precedes) building ``repo``'s image here; the daemon is known to answer.

    Problems of the repository itself (environment files a mode cannot build, a base
    image its paperpack.yml names) are not the machine's: they give a ready
    :class:`Readiness`, and the build raises them as it always does.
    """
    from .builder import missing_base  # the builder imports repo2docker's helpers

    missing = buildx_problem()
    if missing:
        return Readiness(missing, BUILDX_FIX)
    try:
        need = missing_base(repo, mode, allow_substitution)
    except PaperpackError as exc:
        log.debug("the build itself will say: %s", exc)
        return Readiness()
    if need is None or not need.own:
        return Readiness()
    problem, fix = maker_problem(need.release)
    if problem and need.release != DEFAULT_RELEASE and engine.image_id(base_image_tag(DEFAULT_RELEASE)):
        return Readiness()  # another release the repository asks for (runtime.txt): its doing, never the machine's
    if problem:
        return Readiness(f"the base image {need.tag} is not present and cannot be made here: {problem}", fix)
    return Readiness(make_base=need.tag, release=need.release)
