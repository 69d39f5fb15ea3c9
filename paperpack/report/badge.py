"""Badges: the reproducibility status badge of a verdict, and the README badges (launch and status).

- :func:`status_endpoint` is ``badge.json`` in the shields.io endpoint schema (``schemaVersion``,
  ``label``, ``message``, ``color``): published anywhere, ``https://img.shields.io/endpoint?url=…``
  draws it. :func:`status_svg` is ``badge.svg``, the same badge drawn offline with anybadge.
  :func:`write_status_badges` writes both beside the other reports (a writer of
  :data:`paperpack.report.publish.WRITERS`).
- :func:`readme_badges` makes the badges a README shows (the Binder launch badge pinned to the
  commit, and the status badge) as Markdown, reST or HTML; :func:`write_badges` puts them between
  markers in a file of the repository, idempotently, touching nothing else in it.
"""

from __future__ import annotations

import html
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..binder.launch import LaunchOptions, LaunchTarget, Provider, launch_target
from ..errors import UsageError
from ..repository.manifest import BinderSettings
from ..repository.repo import DEFAULT_OUTPUT
from ..util.atomic import write_atomic
from ..util.words import Word
from .paper import PaperClass, PaperVerdict

if TYPE_CHECKING:
    from ..repository.repo import Repo
    from .publish import Publication

__all__ = [
    "STATUS_LABEL",
    "BadgeFormat",
    "Badge",
    "ReadmeBadges",
    "BadgeOptions",
    "status_endpoint",
    "status_svg",
    "write_status_badges",
    "readme_badges",
    "insert_badges",
    "write_badges",
    "markers",
]

STATUS_LABEL = "reproducibility"
SHIELDS_ENDPOINT = "https://img.shields.io/endpoint"
MAX_README_BYTES = 10 << 20

#: each class's colour: shields.io's name (badge.json) and its hex value (badge.svg, drawn offline)
_COLORS: dict[PaperClass, tuple[str, str]] = {
    PaperClass.REPRODUCED: ("brightgreen", "#44cc11"),
    PaperClass.MINOR_DIFFERENCES: ("green", "#97ca00"),
    PaperClass.DATED_DEPENDENCIES: ("yellowgreen", "#a4a61d"),
    PaperClass.PARTIALLY_REPRODUCED: ("yellow", "#dfb317"),
    PaperClass.NOT_REPRODUCED: ("red", "#e05d44"),
    PaperClass.NOT_RUN: ("lightgrey", "#9f9f9f"),
}


def status_endpoint(verdict: PaperVerdict) -> dict[str, Any]:
    """``badge.json``: the shields.io endpoint document of ``verdict``."""
    return {"schemaVersion": 1, "label": STATUS_LABEL, "message": verdict.label(), "color": _COLORS[verdict.cls][0]}


def status_svg(verdict: PaperVerdict) -> str:
    """``badge.svg``: the status badge drawn offline (anybadge), the same bytes for the same verdict."""
    import anybadge  # only the writer needs it: not imported with the package

    badge = anybadge.Badge(STATUS_LABEL, verdict.label(), default_color=_COLORS[verdict.cls][1])
    # anybadge numbers its SVG masks per process (anybadge_1, anybadge_2, …); a file of its own needs no
    # page-unique id, and a fixed one keeps the file the same for the same verdict
    return str(badge.badge_svg_text).replace(badge.mask_str, "paperpack_status")


def write_status_badges(publication: Publication) -> list[Path]:
    """Write ``badge.json`` and ``badge.svg`` into the output folder (a :data:`~.publish.WRITERS` writer)."""
    out = publication.out_dir
    endpoint = out / "badge.json"
    picture = out / "badge.svg"
    write_atomic(endpoint, json.dumps(status_endpoint(publication.verdict), indent=2) + "\n")
    write_atomic(picture, status_svg(publication.verdict))
    return [endpoint, picture]


class BadgeFormat(Word):
    MARKDOWN = "markdown"
    RST = "rst"
    HTML = "html"

    @classmethod
    def for_file(cls, path: Path) -> BadgeFormat:
        """The format a file's extension asks for (Markdown unless .rst/.txt or .html/.htm)."""
        suffix = path.suffix.lower()
        return cls.RST if suffix in (".rst", ".txt") else cls.HTML if suffix in (".html", ".htm") else cls.MARKDOWN


def markers(fmt: BadgeFormat) -> tuple[str, str]:
    """The start and end marker lines: HTML comments, or reST comments in reST."""
    if fmt is BadgeFormat.RST:
        return ".. paperpack-badges:start", ".. paperpack-badges:end"
    return "<!-- paperpack-badges:start -->", "<!-- paperpack-badges:end -->"


@dataclass(frozen=True)
class Badge:
    alt: str
    image: str
    link: str | None = None

    def render(self, fmt: BadgeFormat) -> str:
        if fmt is BadgeFormat.MARKDOWN:
            picture = f"![{self.alt}]({self.image})"
            return f"[{picture}]({self.link})" if self.link else picture
        if fmt is BadgeFormat.RST:
            lines = [f".. image:: {self.image}"] + ([f"   :target: {self.link}"] if self.link else [])
            return "\n".join(lines + [f"   :alt: {self.alt}"])
        picture = f'<img src="{html.escape(self.image)}" alt="{html.escape(self.alt)}">'
        return f'<a href="{html.escape(self.link)}">{picture}</a>' if self.link else picture


@dataclass(frozen=True)
class BadgeOptions:
    launch: LaunchOptions = field(default_factory=LaunchOptions)
    status_url: str | None = None  # where badge.json is published
    out_dir: Path | None = None  # the report folder (default: paperpack-out in the repository)


@dataclass(frozen=True)
class ReadmeBadges:
    target: LaunchTarget
    badges: tuple[Badge, ...]
    notes: tuple[str, ...] = ()

    def render(self, fmt: BadgeFormat) -> str:
        """The badges, without markers: one line in Markdown and HTML, one directive each in reST."""
        return ("\n\n" if fmt is BadgeFormat.RST else " ").join(b.render(fmt) for b in self.badges)

    def block(self, fmt: BadgeFormat) -> str:
        """The badges between the markers."""
        start, end = markers(fmt)
        gap = "\n\n" if fmt is BadgeFormat.RST else "\n"
        return f"{start}{gap}{self.render(fmt)}{gap}{end}"


def readme_badges(repo: Repo, options: BadgeOptions = BadgeOptions()) -> ReadmeBadges:
    """The launch badge (pinned to the commit, opening the first notebook) and, when its URL is known
    (``status_url``, or derived for GitHub), the status badge."""
    settings = repo.manifest.binder if repo.manifest is not None else BinderSettings()
    target = launch_target(repo.root, _notebooks_in_order(repo), options=options.launch, settings=settings)
    notes = list(target.notes)
    badges = [Badge("Binder", target.badge_image, target.launch_url)]
    status_url = _status_url(repo, target, options, notes)
    if status_url is not None:
        badges.append(Badge(STATUS_LABEL, f"{SHIELDS_ENDPOINT}?url={quote(status_url, safe='')}"))
    return ReadmeBadges(target, tuple(badges), tuple(notes))


def _notebooks_in_order(repo: Repo) -> list[str]:
    if repo.manifest is not None:
        listed = [nb.path for nb in repo.manifest.notebooks if not nb.skip]
        if listed:
            return listed
    return repo.notebooks


def _status_url(repo: Repo, target: LaunchTarget, options: BadgeOptions, notes: list[str]) -> str | None:
    if options.status_url:
        parts = urlsplit(options.status_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"--status-url {options.status_url!r} is not an http(s) URL",
                hint="give the public URL of badge.json, e.g. https://example.org/paper/badge.json",
            )
        return options.status_url
    out = (options.out_dir or repo.root / DEFAULT_OUTPUT).absolute()
    try:
        rel = out.relative_to(repo.root)
    except ValueError:
        rel = None
    if target.source.provider is Provider.GITHUB and rel is not None:
        path = PurePosixPath(target.path_in_repository(rel.as_posix()), "badge.json")
        # HEAD: the default branch's latest badge.json (a commit cannot hold the verdict on itself)
        return f"https://raw.githubusercontent.com/{target.source.name}/HEAD/{quote(str(path))}"
    where = f"{rel.as_posix()}/badge.json" if rel is not None else "badge.json in the report folder"
    notes.append(
        f"no status badge: pass --status-url with the public URL of {where} (written by paperpack build; "
        "derived automatically only for a GitHub repository that holds the report folder)"
    )
    return None


def insert_badges(text: str, block: str, fmt: BadgeFormat, *, name: str = "README") -> str:
    """``text`` with ``block`` between its markers, or inserted after the first title when it has none.

    The markers must each be alone on a line, once, start before end; otherwise :class:`UsageError`
    names the lines. Everything outside the markers stays as it was, line endings included.
    """
    start, end = markers(fmt)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == start]
    ends = [i for i, line in enumerate(lines) if line.strip() == end]
    block = block.replace("\n", newline)
    if not starts and not ends:
        at = _after_title(lines, fmt)
        before = "".join(lines[:at])
        after = "".join(lines[at:])
        if before and not before.endswith(newline):
            before += newline
        lead = newline if before and not before.endswith(newline * 2) else ""
        tail = newline if after and not after.startswith(("\n", "\r\n")) else ""
        return f"{before}{lead}{block}{newline}{tail}{after}"
    if len(starts) != 1 or len(ends) != 1 or starts[0] > ends[0]:
        found = (
            f"{start!r} on line(s) {', '.join(str(i + 1) for i in starts) or 'none'} and {end!r} on line(s) "
            f"{', '.join(str(i + 1) for i in ends) or 'none'}"
        )
        raise UsageError(
            f"{name}: the badge markers are not one pair ({found}); the file was not changed",
            hint=f"keep exactly one {start} line and one {end} line after it (or remove both: the "
            "badges are then inserted after the first title)",
        )
    i, j = starts[0], ends[0]
    keep_end = lines[j][len(lines[j].rstrip("\r\n")) :] or ""
    return "".join(lines[:i]) + block + keep_end + "".join(lines[j + 1 :])


def _after_title(lines: list[str], fmt: BadgeFormat) -> int:
    """The line index after the document's first title (0 when there is none, or in HTML)."""
    fence = False
    for i, line in enumerate(lines):
        bare = line.rstrip("\r\n")
        if fmt is BadgeFormat.MARKDOWN:
            if bare.lstrip().startswith(("```", "~~~")):
                fence = not fence
            elif not fence and (bare.startswith("# ") or bare == "#"):
                return i + 1
        elif fmt is BadgeFormat.RST and i + 1 < len(lines) and bare.strip():
            under = lines[i + 1].rstrip("\r\n")
            if len(under) >= max(3, len(bare.rstrip())) and len(set(under)) == 1 and under[0] in "=-~^\"'`#*+:.":
                return i + 2
    return 0


def write_badges(root: Path, file: Path, block: str, fmt: BadgeFormat) -> bool:
    """Put ``block`` between the markers of ``file``, which must be inside ``root`` and no link.

    Returns whether the file changed (the same badges leave it untouched, not even rewritten). The
    file is written atomically; a new file holds only the badges.
    """
    dest = file.absolute().parent.resolve() / file.name
    try:
        rel = dest.relative_to(root)
    except ValueError:
        raise UsageError(
            f"--write {file}: {dest} is outside the repository {root}; paperpack writes badges only "
            "into the repository's own files",
            hint=f"give a file inside the repository, e.g. {root / 'README.md'}",
        ) from None
    if not rel.parts:
        raise UsageError(f"--write {file}: that is the repository folder itself", hint="give a file, e.g. README.md")
    text = _read_regular(dest, file)
    new = insert_badges(text if text is not None else "", block, fmt, name=str(file))
    if new == text:
        return False
    write_atomic(dest, new, within=root, hint="write the badges into a regular file of the repository")
    return True


def _read_regular(dest: Path, given: Path) -> str | None:
    """The text of ``dest``, ``None`` if it does not exist; a link, a non-file or a non-UTF-8 file is refused."""
    try:
        fd = os.open(dest, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(dest):
            raise UsageError(
                f"--write {given}: it is a symbolic link; paperpack never writes through a link",
                hint="give the real file, or replace the link with a file",
            ) from None
        raise UsageError(
            f"--write {given}: cannot read it ({exc.strerror or exc})",
            hint="give a readable file inside the repository",
        ) from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"--write {given}: not a regular file", hint="give a file such as README.md")
        if info.st_size > MAX_README_BYTES:
            raise UsageError(
                f"--write {given}: {info.st_size} bytes is not a README", hint="give the README the badges go into"
            )
        raw = fh.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"--write {given}: not UTF-8 (byte {exc.start}); the file was not changed", hint="save the file as UTF-8"
        ) from None
