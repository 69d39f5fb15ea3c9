"""Where a Binder launch points: the repository's provider and spec, the commit, the hub, what opens.

A launch URL has BinderHub's form ``HUB/v2/PROVIDER/SPEC?labpath=NOTEBOOK`` and the build stream
``HUB/build/PROVIDER/SPEC`` takes the same spec. The providers paperpack writes, as mybinder.org
names them:

- ``gh``: a repository on github.com, spec ``OWNER/REPO/REF``;
- ``gl``: a project on gitlab.com, spec ``GROUP%2FPROJECT/REF`` (the project path URL-encoded);
- ``git``: any other git URL, spec ``URLENCODED-URL/REF``;
- ``zenodo``: a Zenodo DOI, spec ``DOI/`` (the DOI names one version: no ref).

Each value comes from the command line first, then the manifest's ``binder:`` section, then git
(``origin``'s URL, ``HEAD``'s commit) or the default hub. A remote URL never carries its
credentials into a badge: user and password are dropped.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from ..errors import UsageError
from ..repository.manifest import BinderSettings
from ..util.words import Word

__all__ = [
    "DEFAULT_HUB",
    "Provider",
    "Source",
    "LaunchTarget",
    "LaunchOptions",
    "parse_remote",
    "parse_hub",
    "launch_target",
]

log = logging.getLogger(__name__)

DEFAULT_HUB = "https://mybinder.org"

_ZENODO_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)?(10\.5281/zenodo\.[0-9]+)/?$", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?([A-Za-z0-9.-]+):(?!//)([^\s]+)$")  # git@github.com:owner/repo.git
_OWNER_REPO = re.compile(r"^(?!\.\.?/)[A-Za-z0-9_.-]+/(?!\.\.?$)[A-Za-z0-9_.-]+$")  # no . or .. part
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REMOTE_HINT = (
    "pass --remote with the public repository (OWNER/REPO on GitHub, an https git URL, or a Zenodo "
    "DOI), or set `binder: {repository: …}` in paperpack.yml"
)


class Provider(Word):
    """BinderHub's name for where the repository is."""

    GITHUB = "gh"
    GITLAB = "gl"
    GIT = "git"
    ZENODO = "zenodo"


@dataclass(frozen=True)
class Source:
    """A repository Binder can fetch: ``name`` is OWNER/REPO (gh), the project path (gl), the https URL
    (git) or the DOI (zenodo)."""

    provider: Provider
    name: str
    note: str = ""  # an assumption made while reading the remote, for the person to check


@dataclass(frozen=True)
class LaunchTarget:
    """One launchable repository state on one hub, and what opens first."""

    source: Source
    ref: str | None  # None for Zenodo
    hub: str  # base URL, without a trailing slash
    labpath: str | None = None  # the notebook JupyterLab opens (relative to the launched repository's root)
    urlpath: str | None = None  # the manifest's urlpath: wins over labpath
    notes: tuple[str, ...] = ()  # what the person should know (an unpinned ref, a guessed URL)
    prefix: str = ""  # where the paper's folder is in the launched repository ("" for its root)
    hub_from_repository: bool = False  # the hub is binder.url of the (untrusted) manifest, not the user's choice

    def path_in_repository(self, rel: str) -> str:
        """``rel`` (relative to the paper's folder) relative to the launched repository's root."""
        return str(PurePosixPath(self.prefix, rel)) if self.prefix else rel

    @property
    def spec(self) -> str:
        """BinderHub's spec for this provider (the part after ``/v2/PROVIDER/`` and ``/build/PROVIDER/``)."""
        provider, name = self.source.provider, self.source.name
        if provider is Provider.ZENODO:
            return f"{name}/"
        ref = quote(self.ref or "HEAD", safe="")
        if provider is Provider.GITHUB:
            return f"{name}/{ref}"
        return f"{quote(name, safe='')}/{ref}"

    @property
    def launch_url(self) -> str:
        url = f"{self.hub}/v2/{self.source.provider}/{self.spec}"
        if self.urlpath:
            return f"{url}?urlpath={quote(self.urlpath, safe='')}"
        if self.labpath:
            return f"{url}?labpath={quote(self.labpath, safe='')}"
        return url

    @property
    def build_url(self) -> str:
        return f"{self.hub}/build/{self.source.provider}/{self.spec}"

    @property
    def badge_image(self) -> str:
        """The hub's own badge picture (every BinderHub serves ``/badge_logo.svg``)."""
        return f"{self.hub}/badge_logo.svg"

    @property
    def pinned(self) -> bool:
        """The launch names one immutable state: a full commit id, or a Zenodo DOI."""
        return self.source.provider is Provider.ZENODO or bool(self.ref and _SHA.match(self.ref))


@dataclass(frozen=True)
class LaunchOptions:
    """What the command line gave (``None``: not given)."""

    hub: str | None = None
    remote: str | None = None
    ref: str | None = None


@dataclass
class _Git:
    """The few facts read from git, each ``None`` when git cannot say."""

    root: Path
    _cache: dict[tuple[str, ...], str | None] = field(default_factory=dict)

    def ask(self, *args: str) -> str | None:
        if args not in self._cache:
            # the repository is untrusted: its .git/config may name an fsmonitor program or hooks; neither runs
            cmd = ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-C", str(self.root), *args]
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL
                )
                self._cache[args] = done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.info("git did not run in %s: %s", self.root, exc)
                self._cache[args] = None
        return self._cache[args]


def parse_hub(url: str, *, origin: str = "--hub") -> str:
    """A BinderHub base URL, checked and without a trailing slash; :class:`UsageError` naming ``origin``."""
    parts = urlsplit(url.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
        or re.search(r"[\s()<>\"'`\\]", url)
        or re.search(r"[\[\]]", parts.path)
    ):
        # the hub's URL goes into README badges: no character that could end a Markdown link or an HTML attribute
        raise UsageError(
            f"{origin} {url!r} is not a BinderHub address (an http or https URL without a query, "
            "credentials, spaces, quotes or brackets)",
            hint="give the hub's base URL, e.g. https://mybinder.org",
        )
    return url.strip().rstrip("/")


def parse_remote(remote: str, *, origin: str = "--remote") -> Source:
    """The Binder source of a git remote URL, ``OWNER/REPO`` (GitHub) or a Zenodo DOI.

    https, http, ssh and scp-like (``git@host:path``) URLs are read; a ``.git`` suffix and a trailing
    slash are dropped; so are credentials. An ssh URL of a host other than GitHub and GitLab becomes
    the https URL of the same path, with a note (Binder clones over https only).
    """
    text = remote.strip()
    if (doi := _ZENODO_DOI.match(text)) is not None:
        return Source(Provider.ZENODO, doi.group(1).lower())
    if _OWNER_REPO.match(text) and not text.endswith(".git"):
        return Source(Provider.GITHUB, text)
    host, path, scheme = _split_remote(text, origin)
    path = re.sub(r"/+$", "", path.strip("/"))
    path = path[:-4] if path.endswith(".git") else path
    if not path or any(part in ("", ".", "..") for part in path.split("/")):
        raise UsageError(f"{origin} {remote!r} names no repository path", hint=_REMOTE_HINT)
    host = host.lower()
    if host in ("github.com", "www.github.com"):
        if not _OWNER_REPO.match(path):
            raise UsageError(
                f"{origin} {remote!r}: a GitHub repository is OWNER/REPO, found {path!r}", hint=_REMOTE_HINT
            )
        return Source(Provider.GITHUB, path)
    if host in ("gitlab.com", "www.gitlab.com"):
        return Source(Provider.GITLAB, path)
    note = ""
    if scheme != "https":
        note = (
            f"the remote {_without_credentials(remote)!r} is not an https URL; the launch uses "
            f"https://{host}/{path}.git (pass --remote if the public URL differs)"
        )
    return Source(Provider.GIT, f"https://{host}/{path}.git", note)


def _split_remote(text: str, origin: str) -> tuple[str, str, str]:
    """(host, path, scheme) of a remote URL; scp-like ``user@host:path`` counts as ssh."""
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme in ("https", "http", "ssh", "git", "git+ssh") and parts.hostname:
            return parts.hostname, parts.path, parts.scheme
    elif (scp := _SCP_LIKE.match(text)) is not None and "." in scp.group(1):
        return scp.group(1), scp.group(2), "ssh"
    raise UsageError(
        f"{origin} {_without_credentials(text)!r} is not a public repository Binder can fetch "
        "(a local path, or a URL of another kind)",
        hint=_REMOTE_HINT,
    )


def _without_credentials(url: str) -> str:
    return re.sub(r"^([a-z+]+://)[^@/]*@", r"\1", url.strip())


def launch_target(
    root: Path,
    notebooks: list[str],
    *,
    options: LaunchOptions = LaunchOptions(),
    settings: BinderSettings | None = None,
) -> LaunchTarget:
    """The launch target of the repository at ``root`` (whose notebooks, first to run first, are ``notebooks``).

    Raises :class:`UsageError` when there is no remote (naming ``--remote``) or, for a git source, no
    commit (naming ``--ref``).
    """
    settings = settings or BinderSettings()
    git = _Git(root)
    notes: list[str] = []
    hub = (
        parse_hub(options.hub, origin="--hub")
        if options.hub
        else (parse_hub(settings.url, origin="binder.url in paperpack.yml") if settings.url else DEFAULT_HUB)
    )
    from_git = False
    if options.remote:
        source = parse_remote(options.remote, origin="--remote")
    elif settings.repository:
        source = parse_remote(settings.repository, origin="binder.repository in paperpack.yml")
    else:
        origin = git.ask("remote", "get-url", "origin")
        if origin is None:
            where = "no git repository" if git.ask("rev-parse", "--git-dir") is None else "no git remote 'origin'"
            raise UsageError(
                f"{root}: {where}, so paperpack cannot tell which public repository Binder should launch",
                hint=_REMOTE_HINT,
            )
        source = parse_remote(origin, origin="git remote 'origin'")
        from_git = True
    if source.note:
        notes.append(source.note)
    ref = _ref(source, options, settings, git, root, notes)
    prefix = _prefix(root, git, notes) if from_git else ""
    target = LaunchTarget(
        source,
        ref,
        hub,
        None,
        settings.urlpath,
        tuple(notes),
        prefix,
        hub_from_repository=not options.hub and bool(settings.url),
    )
    if not settings.urlpath and notebooks:
        target = replace(target, labpath=target.path_in_repository(notebooks[0]))
    return target


def _ref(
    source: Source, options: LaunchOptions, settings: BinderSettings, git: _Git, root: Path, notes: list[str]
) -> str | None:
    if source.provider is Provider.ZENODO:
        if options.ref or settings.ref:
            notes.append("a Zenodo DOI names one version: the ref is not used")
        return None
    ref = options.ref or settings.ref or git.ask("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if ref is None:
        raise UsageError(
            f"{root}: no commit to pin the launch to (no git repository here, or no commit yet)",
            hint="commit first, or pass --ref with the commit, tag or branch to launch",
        )
    if not _SHA.match(ref):
        notes.append(
            f"the launch follows {ref!r}, not one commit: what it opens changes when {ref!r} moves "
            "(pass --ref with a full commit id to pin it)"
        )
    return ref


def _prefix(root: Path, git: _Git, notes: list[str]) -> str:
    """Where ``root`` is in git's work tree ("" at its top): Binder checks out the whole repository."""
    top = git.ask("rev-parse", "--show-toplevel")
    if top is None:
        return ""
    try:
        inner = root.resolve().relative_to(Path(top).resolve())
    except ValueError:
        return ""
    if inner.parts:
        notes.append(
            f"the paper is the folder {inner.as_posix()}/ of the git repository at {top}; Binder builds "
            "the whole repository from its root (pass --remote if the paper has a repository of its own)"
        )
    return inner.as_posix() if inner.parts else ""
