"""A paper repository on disk: its root, its files and its manifest.

Everything takes the root as a :class:`~pathlib.Path`; nothing depends on the
current directory. File listings never follow symbolic links and skip version
control folders and paperpack's own output.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .manifest import Manifest, load_manifest

__all__ = ["Repo", "SKIP_DIRS", "DEFAULT_OUTPUT"]

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox",
                       ".mypy_cache", ".pytest_cache", "paperpack-out"})
DEFAULT_OUTPUT = "paperpack-out"


@dataclass
class Repo:
    root: Path
    manifest: Manifest | None = None
    _files: list[str] | None = field(default=None, repr=False)
    _symlinks: list[str] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, root: Path | str, *, manifest: bool = True) -> "Repo":
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
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                rel = (rel_dir / name).as_posix()
                if (Path(dirpath) / name).is_symlink():
                    links.append(rel)
                else:
                    files.append(rel)
        self._files = sorted(files)
        self._symlinks = sorted(links)

    @property
    def files(self) -> list[str]:
        """Regular files, relative POSIX paths, sorted; symlinks excluded."""
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

    def has(self, rel: str) -> bool:
        return rel in set(self.files)

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
        return [f for f in self.files if f.endswith(".ipynb") and ".ipynb_checkpoints/" not in f
                and not f.startswith(".ipynb_checkpoints")]

    def commit(self) -> str | None:
        """The git commit checked out, or ``None`` outside git."""
        try:
            out = subprocess.run(["git", "-C", str(self.root), "rev-parse", "HEAD"],
                                 capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None
