"""Local base images for offline builds: ``debootstrap`` of a Debian release, then ``docker import``.

No registry is needed: the root file system comes from the Debian mirror the machine
already uses (read from its apt sources), ``$PAPERPACK_DEBIAN_MIRROR``, or one given.
Images are tagged ``paperpack/base:<release>`` (``$PAPERPACK_BASE_REPOSITORY`` names
another repository than ``paperpack/base``) and reused when present.
:func:`maker_problem` says whether this machine can make one (``paperpack build`` makes
the base image it needs when it can).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, EngineError
from ..util import docker as engine

__all__ = [
    "RELEASES",
    "DEFAULT_RELEASE",
    "BaseImage",
    "base_image_tag",
    "base_repository",
    "release_for_python",
    "machine_mirror",
    "ensure_base_image",
    "maker_problem",
    "make_command",
    "REPOSITORY_ENV",
    "MIRROR_ENV",
    "RELEASE_LABEL",
]

log = logging.getLogger(__name__)

#: Debian release → the Python version its ``python3`` package provides.
RELEASES: dict[str, str] = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}
DEFAULT_RELEASE = "bookworm"
TAG_PREFIX = "paperpack/base"
#: names the image repository of paperpack's base images (default :data:`TAG_PREFIX`)
REPOSITORY_ENV = "PAPERPACK_BASE_REPOSITORY"
#: the Debian mirror base images are made from (default: the one in this machine's apt sources)
MIRROR_ENV = "PAPERPACK_DEBIAN_MIRROR"
#: the label every base image paperpack makes carries (its value: the Debian release)
RELEASE_LABEL = "io.paperpack.base.release"

APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))


def base_repository() -> str:
    """The image repository of paperpack's base images: ``$PAPERPACK_BASE_REPOSITORY`` or ``paperpack/base``."""
    return os.environ.get(REPOSITORY_ENV) or TAG_PREFIX


def base_image_tag(release: str) -> str:
    return f"{base_repository()}:{release}"


def make_command(release: str) -> str:
    """The command that makes the base image of ``release`` (as root)."""
    release_arg = "" if release == DEFAULT_RELEASE else f" --release {release}"
    return f"sudo paperpack base-image{release_arg}"


def maker_problem(release: str = DEFAULT_RELEASE) -> tuple[str, str]:
    """``("", "")`` when this machine can make a base image, else (what is missing, the command that fixes it).

    Making one needs debootstrap (on PATH; for a user, in the sbin folders too), root
    (debootstrap mounts and chroots) and a Debian mirror (``$PAPERPACK_DEBIAN_MIRROR`` or
    the machine's apt sources).
    """
    missing, fixes = [], []
    # as a user, where Debian installs it counts too: the fix runs it through sudo, whose PATH has the sbin folders
    user_path = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/sbin"))
    if shutil.which("debootstrap", path=None if os.geteuid() == 0 else user_path) is None:
        missing.append("debootstrap is not installed (or not on PATH)")
        fixes.append("sudo apt-get install debootstrap")
    if os.geteuid() != 0:
        missing.append("making a base image needs root (debootstrap), and paperpack runs as a user")
    if not os.environ.get(MIRROR_ENV):
        try:
            machine_mirror()
        except ConfigError as exc:
            missing.append(str(exc))
    if not missing:
        return "", ""
    fixes.append(make_command(release))
    return "; ".join(missing), " && ".join(fixes)


def release_for_python(python: str) -> str | None:
    """The Debian release whose ``python3`` is ``python`` (``"3.11"`` → bookworm), or ``None``."""
    for release, version in RELEASES.items():
        if version == python:
            return release
    return None


def _source_uris(paths: tuple[Path, ...] = APT_SOURCES) -> list[str]:
    """Mirror URIs from deb822 ``*.sources`` files and one-line ``*.list`` files, in order."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(p.glob("*.sources")) + sorted(p.glob("*.list"))
        elif p.is_file():
            files.append(p)
    uris: list[str] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if f.suffix == ".sources":
            for m in re.finditer(r"^URIs:\s*(.+)$", text, re.M):
                uris += m.group(1).split()
        else:
            for line in text.splitlines():
                parts = line.split("#", 1)[0].split()
                if parts and parts[0] == "deb":
                    rest = [x for x in parts[1:] if not x.startswith("[")]
                    if parts[1].startswith("[") and not parts[1].endswith("]"):
                        rest = [x for x in parts[2:] if "]" not in x]
                    if rest:
                        uris.append(rest[0])
    return uris


def machine_mirror(paths: tuple[Path, ...] = APT_SOURCES) -> tuple[str, str | None]:
    """``(mirror, security_mirror)`` read from this machine's apt sources."""
    uris = _source_uris(paths)
    main = [u for u in uris if "security" not in u]
    security = [u for u in uris if "security" in u]
    if not main:
        raise ConfigError(
            "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/",
            hint="give one with `paperpack base-image --mirror URL`",
        )
    return main[0].rstrip("/"), (security[0].rstrip("/") if security else None)


@dataclass
class BaseImage:
    tag: str
    image_id: str
    release: str
    python: str
    size: int  # bytes
    duration: float  # seconds spent making it (0 when reused)
    reused: bool
    mirror: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _describe(
    tag: str, release: str, *, reused: bool, duration: float, mirror: str | None, info: dict[str, Any] | None = None
) -> BaseImage:
    """``info``: the image's ``docker image inspect`` when the caller has it already."""
    info = info or engine.image_inspect(tag)
    if info is None:
        raise EngineError(f"{tag} was imported but cannot be found", hint="check `docker images`")
    return BaseImage(
        tag=tag,
        image_id=str(info["Id"]),
        release=release,
        python=RELEASES[release],
        size=int(info.get("Size", 0)),
        duration=duration,
        reused=reused,
        mirror=mirror or info.get("Config", {}).get("Labels", {}).get("io.paperpack.base.mirror"),
    )


def _sources_list(release: str, mirror: str, security: str | None) -> str:
    lines = [f"deb {mirror} {release} main", f"deb {mirror} {release}-updates main"]
    if security:
        lines.append(f"deb {security} {release}-security main")
    return "\n".join(lines) + "\n"


def ensure_base_image(
    release: str = DEFAULT_RELEASE,
    *,
    mirror: str | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BaseImage:
    """Make ``paperpack/base:<release>`` unless it exists (or ``force``); return what is there."""
    if release not in RELEASES:
        raise ConfigError(f"unknown Debian release {release!r}", hint=f"choose one of {', '.join(RELEASES)}")
    tag = base_image_tag(release)
    engine.preflight(buildx=False)
    present = None if force else engine.image_inspect(tag)
    if present is not None:
        return _describe(tag, release, reused=True, duration=0.0, mirror=None, info=present)
    if shutil.which("debootstrap") is None:
        raise EngineError("debootstrap is not installed", hint="apt-get install debootstrap (as root)")
    if os.geteuid() != 0:
        raise EngineError(
            "debootstrap must run as root to make a base image",
            hint="run `sudo paperpack base-image`, or ask an administrator to run it once",
        )
    security: str | None
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    if mirror:
        security = None
    else:
        mirror, security = machine_mirror()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="paperpack-base-") as tmp:
        root = Path(tmp) / "rootfs"
        engine.stream(
            ["debootstrap", "--variant=minbase", release, str(root), mirror],
            what=f"debootstrap Debian {release} from {mirror}",
            on_line=progress,
        )
        (root / "etc/apt/sources.list").write_text(_sources_list(release, mirror, security), encoding="utf-8")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        archive = Path(tmp) / "rootfs.tar"
        _say(progress, "packing the root file system")
        engine.run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(archive), "."], what="pack the root file system"
        )
        changes = [
            'CMD ["/bin/bash"]',
            "ENV LANG=C.UTF-8",
            f"LABEL {RELEASE_LABEL}={release} io.paperpack.base.mirror={mirror} "
            f"io.paperpack.base.python={RELEASES[release]}",
        ]
        args = [engine.docker_cli(), "import"]
        for change in changes:
            args += ["--change", change]
        _say(progress, f"docker import {tag}")
        engine.run(args + [str(archive), tag], what=f"import {tag}", timeout=900)
    duration = time.monotonic() - start
    return _describe(tag, release, reused=False, duration=duration, mirror=mirror)


def _say(progress: Callable[[str], None] | None, what: str) -> None:
    """A step of making the image, in debootstrap's own form (``I: …``) so one view shows both."""
    if progress is not None:
        progress(f"I: {what}")
