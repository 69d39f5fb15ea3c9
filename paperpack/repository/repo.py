"""A paper repository on disk: its root, its files and its manifest.

Everything takes the root as a :class:`~pathlib.Path`; nothing depends on the
current directory. File listings never follow symbolic links and skip version
control folders and paperpack's own output.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from .manifest import Manifest, load_manifest

if TYPE_CHECKING:
    from ..environment import Environment

__all__ = [
    "Repo",
    "SKIP_DIRS",
    "DEFAULT_OUTPUT",
    "OUTPUT_MARKER",
    "UNTRUSTED_SWITCH",
    "mark_output_dir",
    "default_output",
    "state_dir",
    "untrusted_from_env",
]

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        "paperpack-out",
    }
)
DEFAULT_OUTPUT = "paperpack-out"
#: A file paperpack puts in every output folder it writes, so that a folder given with
#: --out-dir inside the repository is never read back as the paper's sources.
OUTPUT_MARKER = ".paperpack-output"
#: the environment variable that makes every run treat its repository as untrusted (see default_output)
UNTRUSTED_SWITCH = "PAPERPACK_UNTRUSTED"


def mark_output_dir(path: Path) -> None:
    """Create ``path`` if needed and mark it as paperpack output (see :data:`OUTPUT_MARKER`).

    The marker is created without following a link; one that is not a regular file (a
    link a repository ships, a folder) raises :class:`UsageError`.
    """
    path.mkdir(parents=True, exist_ok=True)
    marker = path / OUTPUT_MARKER
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(marker, flags, 0o666)
    except FileExistsError:
        if not stat.S_ISREG(os.lstat(marker).st_mode):
            raise UsageError(
                f"{marker} is not a regular file (a link or a folder); paperpack never writes through a link",
                hint=f"remove {marker}, or pass --out-dir with a new folder",
                path=marker,
            ) from None
        return
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("This folder holds paperpack output; paperpack does not read it as sources.\n")


def state_dir() -> Path:
    """paperpack's per-user state folder: ``$PAPERPACK_STATE_DIR``, else ``$XDG_STATE_HOME/paperpack``,
    else ``~/.local/state/paperpack``."""
    if os.environ.get("PAPERPACK_STATE_DIR"):
        return Path(os.environ["PAPERPACK_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "paperpack"


def untrusted_from_env() -> bool:
    """Whether ``PAPERPACK_UNTRUSTED`` asks to treat the repository as untrusted (1, true, yes, on)."""
    return os.environ.get(UNTRUSTED_SWITCH, "").strip().lower() in ("1", "true", "yes", "on")


def default_output(root: Path, *, untrusted: bool) -> Path:
    """Where a run's output goes when no folder is given.

    ``<root>/paperpack-out`` for a repository you trust. For untrusted input (``--untrusted``,
    ``PAPERPACK_UNTRUSTED=1``: a submission, batch mode, CI over others' repositories) a folder
    outside the repository, which it cannot have prepared: ``<state>/runs/<folder name>-<hash of
    its path>`` under :func:`state_dir`.
    """
    if not untrusted:
        return root / DEFAULT_OUTPUT
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return state_dir() / "runs" / f"{root.name or 'repo'}-{digest}"


@dataclass
class Repo:
    root: Path
    manifest: Manifest | None = None
    _files: list[str] | None = field(default=None, repr=False)
    _symlinks: list[str] | None = field(default=None, repr=False)
    _file_set: frozenset[str] | None = field(default=None, repr=False)
    _environment: Environment | None = field(default=None, repr=False)

    @classmethod
    def open(cls, root: Path | str, *, manifest: bool = True) -> Repo:
        """Open a repository folder; reads and validates ``paperpack.yml`` if present."""
        path = Path(root)
        if not path.exists():
            raise UsageError(f"{path}: no such folder", hint="give the path of the paper's repository")
        if not path.is_dir():
            raise UsageError(f"{path}: not a folder", hint="give the folder that holds the notebooks, not a file in it")
        path = path.resolve()
        repo = cls(root=path)
        if manifest:
            repo.manifest = load_manifest(path)
        return repo

    def _walk(self) -> None:
        files: list[str] = []
        links: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            rel_dir = Path(dirpath).relative_to(self.root)
            keep = []
            for d in sorted(dirnames):
                if d in SKIP_DIRS:
                    continue
                if (Path(dirpath) / d).is_symlink():
                    links.append((rel_dir / d).as_posix())
                    continue
                if (Path(dirpath) / d / OUTPUT_MARKER).exists():
                    continue  # paperpack's own output, wherever --out-dir put it
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                rel = (rel_dir / name).as_posix()
                try:
                    mode = os.lstat(Path(dirpath) / name).st_mode
                except OSError:
                    continue
                if stat.S_ISLNK(mode):
                    links.append(rel)
                elif stat.S_ISREG(mode):
                    files.append(rel)
                # pipes, sockets and devices are not files of a paper: never opened
        self._files = sorted(files)
        self._symlinks = sorted(links)

    @property
    def files(self) -> list[str]:
        """Regular files, relative POSIX paths, sorted; symlinks, pipes, sockets, devices and
        paperpack's output folders excluded."""
        if self._files is None:
            self._walk()
        assert self._files is not None
        return self._files

    @property
    def symlinks(self) -> list[str]:
        if self._symlinks is None:
            self._walk()
        assert self._symlinks is not None
        return self._symlinks

    @property
    def environment(self) -> Environment:
        """What repo2docker will build from this repository (:mod:`paperpack.environment`), detected once."""
        if self._environment is None:
            from ..environment import detect  # the environment stage sits above the repository

            self._environment = detect(self.root)
        return self._environment

    def has(self, rel: str) -> bool:
        if self._file_set is None:
            self._file_set = frozenset(self.files)
        return rel in self._file_set

    def path(self, rel: str) -> Path:
        return self.root / rel

    def read_text(self, rel: str, limit: int = 5 << 20) -> str | None:
        """UTF-8 text of a small file, or ``None`` if missing, too large or not UTF-8."""
        p = self.root / rel
        try:
            if p.is_symlink() or not p.is_file() or p.stat().st_size > limit:
                return None
            return p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    @property
    def notebooks(self) -> list[str]:
        """Notebook paths (``*.ipynb``), checkpoints excluded."""
        return [
            f
            for f in self.files
            if f.endswith(".ipynb") and ".ipynb_checkpoints/" not in f and not f.startswith(".ipynb_checkpoints")
        ]

    def commit(self) -> str | None:
        """The git commit checked out, or ``None`` outside git."""
        try:
            out = subprocess.run(
                ["git", "-C", str(self.root), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None
