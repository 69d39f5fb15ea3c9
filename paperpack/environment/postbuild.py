"""What a ``postBuild`` script installs and downloads, read without running it.

repo2docker runs ``postBuild`` from the repository root after the environment files. Papers use
it to install more packages (``pip install -r extra.txt``, ``mamba create --file
conda-linux-64.lock``) and to fetch data (``wget https://…/data.tar.gz``). This module reads
the script line by line (shell syntax through :mod:`shlex`, ``\\`` continuations joined,
``&&``/``;``/``|`` split) and returns:

- :class:`Installed`: packages the script installs, with the line (from a pip requirements
  file, a conda spec file, a conda-lock explicit file, or named on the command line);
- :class:`Download`: URLs fetched at build time (``wget``, ``curl``, Python one-liners calling
  ``urlretrieve``/``requests.get``/``urlopen``), with the line;
- :class:`Unclear`: install commands it could not follow (a file outside the repository or
  missing, a name built by the shell such as ``$(cat …)``), so the author knows what was not seen.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from .files import logical_lines, parse_conda_spec, parse_environment_yml, parse_requirements_txt, read_text

__all__ = ["Installed", "Download", "Unclear", "PostBuild", "read_postbuild", "conda_lock_names"]

_PIP = re.compile(r"^(?:python[0-9.]*\s+-m\s+)?pip[0-9.]*$")
_CONDA = ("conda", "mamba", "micromamba")
#: conda options that take a value (which is not a package)
_CONDA_VALUE_OPTS = {
    "-n",
    "--name",
    "-p",
    "--prefix",
    "-c",
    "--channel",
    "--root-prefix",
    "-r",
    "--platform",
    "--subdir",
    "--repodata-fn",
}
_PIP_VALUE_OPTS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-c",
    "--constraint",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--upgrade-strategy",
    "--trusted-host",
    "--cert",
    "--timeout",
    "--retries",
    "--src",
}
_URL = re.compile(r"https?://[^\s'\"`)>]+")
_PY_FETCH = re.compile(r"urlretrieve|urlopen|requests\.get|httpx\.get|pooch\.retrieve|wget\.download")


@dataclass(frozen=True)
class Installed:
    name: str  #: normalised distribution or conda package name
    line: int  #: line of postBuild
    source: str  #: "pip", "conda", or the file it came from (``conda-linux-64.lock``)
    spec: str = ""  #: the requirement as written, for pip (``scipy==1.11.4``)
    locked: bool = False  #: from a conda explicit (lock) file: the whole environment, dependencies included


@dataclass(frozen=True)
class Download:
    url: str
    line: int
    tool: str  #: wget, curl, python


@dataclass(frozen=True)
class Unclear:
    line: int
    text: str
    reason: str


@dataclass
class PostBuild:
    path: str
    installed: list[Installed] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)
    unclear: list[Unclear] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  #: requirement and lock files it reads
    kernels: list[str] = field(default_factory=list)  #: kernel names it installs (``ipykernel install --name``)


def _commands(line: str) -> list[list[str]]:
    """Simple commands of a shell line (split on ``&&``, ``||``, ``;``, ``|``), each as words.

    A command substitution (``$(cat x)``, backticks) stays one word, which callers see as computed.
    """
    line = re.sub(r"\$\([^()]*\)|`[^`]*`", lambda m: shlex.quote(m.group(0)), line)
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
    except ValueError:
        return [line.split()]
    out: list[list[str]] = [[]]
    for w in words:
        if w and set(w) <= set(";&|"):
            out.append([])
        else:
            out[-1].append(w)
    return [c for c in out if c]


def _strip_prefix(words: list[str]) -> list[str]:
    """Drop ``sudo -E``, ``env A=B``, ``time`` and ``${CONDA_DIR}/bin/`` in front of the command."""
    while words and (words[0] in ("sudo", "env", "time", "exec", "command") or re.match(r"^\w+=", words[0])):
        words = words[1:]
        while words and words[0].startswith("-"):  # sudo -E, env -i
            words = words[1:]
    if words:
        words = [posixpath.basename(words[0])] + words[1:]
    return words


def conda_lock_names(text: str) -> list[str] | None:
    """Package names of a conda explicit file (``@EXPLICIT`` then one package URL a line), or ``None``."""
    if "@EXPLICIT" not in text:
        return None
    names = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "@")):
            continue
        filename = PurePosixPath(line.split("#", 1)[0]).name
        stem = re.sub(r"\.(conda|tar\.bz2)$", "", filename)
        parts = stem.rsplit("-", 2)  # name-version-build; names may contain '-'
        if len(parts) == 3:
            names.append(parts[0].lower())
    return names


def _inside(rel: str) -> bool:
    pure = PurePosixPath(rel)
    return not pure.is_absolute() and ".." not in pure.parts


def _conda_file(root: Path, rel: str, number: int, out: PostBuild, text: str, env_file: bool) -> None:
    if not _inside(rel) or (content := read_text(root, rel)) is None:
        out.unclear.append(Unclear(number, text, f"{rel} is not a file inside the repository"))
        return
    out.files.append(rel)
    if env_file:
        env = parse_environment_yml(root, rel)
        out.installed += [
            Installed(r.name, number, rel, r.raw if r.source.endswith("pip") else "") for r in env.requirements
        ]
        return
    names = conda_lock_names(content)
    if names is not None:
        out.installed += [Installed(canonicalize_name(n), number, rel, locked=True) for n in names]
        return
    names = [
        p.name.lower()
        for line in content.splitlines()  # a plain list of conda specs, one a line
        if line.strip() and not line.lstrip().startswith("#") and (p := parse_conda_spec(line.strip())) is not None
    ]
    out.installed += [Installed(canonicalize_name(n), number, rel) for n in names]


def _pip(root: Path, words: list[str], number: int, out: PostBuild, text: str) -> None:
    args = words[words.index("install") + 1 :]
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg in ("-r", "--requirement"):
            if i + 1 < len(args):
                rel = posixpath.normpath(args[i + 1])
                if _inside(rel) and read_text(root, rel) is not None:
                    pip = parse_requirements_txt(root, rel)
                    out.files += pip.files
                    out.installed += [Installed(r.name, number, rel, r.raw) for r in pip.requirements]
                else:
                    out.unclear.append(Unclear(number, text, f"{args[i + 1]} is not a file inside the repository"))
            skip = True
        elif arg in _PIP_VALUE_OPTS:
            skip = True
        elif arg.startswith(("-", ".", "/")) or "://" in arg or "$" in arg:
            if "$" in arg:
                out.unclear.append(Unclear(number, text, f"{arg} is computed by the shell"))
            continue
        else:
            m = re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*", arg)
            if m:
                out.installed.append(Installed(canonicalize_name(m.group(0)), number, "pip", arg))


def _conda(root: Path, words: list[str], number: int, out: PostBuild, text: str) -> None:
    verbs = [w for w in words[1:] if not w.startswith("-")][:2]
    env_file = verbs[:1] == ["env"] and verbs[1:] in (["create"], ["update"])  # -f names an environment.yml
    if not env_file and verbs[:1] not in (["install"], ["create"]):
        return
    args = words[words.index(verbs[1 if env_file else 0]) + 1 :]
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg in ("--file", "-f") or arg.startswith("--file="):
            value = arg.split("=", 1)[1] if "=" in arg else (args[i + 1] if i + 1 < len(args) else "")
            skip = "=" not in arg
            if value:
                _conda_file(root, posixpath.normpath(value), number, out, text, env_file)
        elif arg in _CONDA_VALUE_OPTS:
            skip = True
        elif arg.startswith("-"):
            continue
        elif "$" in arg:
            out.unclear.append(Unclear(number, text, f"{arg} is computed by the shell"))
        elif not env_file and (parsed := parse_conda_spec(arg)) is not None:
            out.installed.append(Installed(canonicalize_name(parsed.name), number, "conda", arg))


def _kernel_name(words: list[str]) -> list[str]:
    """The ``--name`` of ``python -m ipykernel install`` (``python3`` when not given)."""
    for i, w in enumerate(words):
        if w == "--name" and i + 1 < len(words):
            return [words[i + 1]]
        if w.startswith("--name="):
            return [w.split("=", 1)[1]]
    return ["python3"]


def read_postbuild(root: Path, rel: str) -> PostBuild:
    """Installs, downloads and unclear install lines of the ``postBuild`` at ``rel``."""
    out = PostBuild(rel)
    text = read_text(root, rel)
    if text is None:
        return out
    for number, line in logical_lines(text):
        for words in _commands(line):
            words = _strip_prefix(words)
            if not words:
                continue
            cmd = words[0]
            joined = " ".join(words[:3])
            if "ipykernel" in words and "install" in words:
                out.kernels += _kernel_name(words)
            elif "install" in words and (_PIP.match(cmd) or re.match(r"^python[0-9.]*\s+-m\s+pip", joined)):
                _pip(root, words, number, out, line)
            elif cmd in _CONDA:
                _conda(root, words, number, out, line)
            elif cmd in ("wget", "curl"):
                out.downloads += [Download(u, number, cmd) for u in _URL.findall(" ".join(words[1:]))]
            elif re.match(r"^python[0-9.]*$", cmd) and "-c" in words and _PY_FETCH.search(line):
                out.downloads += [Download(u, number, "python") for u in _URL.findall(line)]
    return out
