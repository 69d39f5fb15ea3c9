"""Parsers for the environment files repo2docker reads, with file and line for every entry.

Each parser takes the repository root and a relative path and returns
:class:`Requirement` entries plus :class:`EnvProblem` for what it could not read.
They never raise on bad content: a broken file is a finding, not a crash.
Every parser returns a dataclass. Used by :mod:`paperpack.environment.detect`, which
decides *which* files count; nothing else in paperpack parses an environment file.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement
from packaging.utils import canonicalize_name

from ..errors import EnvironmentFileError
from ..repository.files import MAX_ENV_BYTES, read_repo_text
from ..repository.manifest import kind_words, yaml_line, yaml_problem
from ..util.words import Word

__all__ = [
    "Requirement",
    "EnvProblem",
    "ProblemCode",
    "Runtime",
    "parse_runtime",
    "AptTxt",
    "parse_apt_txt",
    "PipRequirements",
    "parse_requirements_txt",
    "is_local_requirement",
    "logical_lines",
    "CondaSpec",
    "parse_conda_spec",
    "CondaEnv",
    "parse_environment_yml",
    "Pipenv",
    "parse_pipfile",
    "PipfileEntry",
    "pipfile_entries",
    "SetupPy",
    "parse_setup_py",
    "PyProject",
    "parse_pyproject",
    "read_file",
    "read_text",
]

MAX_BYTES = MAX_ENV_BYTES
_CONDA_SPEC = re.compile(
    r"^(?:(?P<channel>[\w.\-]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*"
    r"(?:(?P<op>==|>=|<=|!=|~=|=|>|<)?\s*(?P<version>[^=\s]+)?(?:=(?P<build>\S+))?)?\s*$"
)
_PINNED_OPS = ("==", "===")
#: A Debian package name (two or more of a-z 0-9 + - ., starting alphanumeric), optionally ``=version``.
#: A trailing ``-`` is apt's remove suffix, refused: ``apt-get install pkg-`` removes ``pkg``
#: (no Debian package name ends with ``-``; many end with ``+``, like ``g++``).
_APT_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]*[a-z0-9.+](=[0-9][A-Za-z0-9.+:~-]*)?$")


@dataclass(frozen=True)
class Requirement:
    """One declared package, where it was declared, and how tightly."""

    name: str  #: PEP 503 normalised (``scikit-learn``)
    raw: str  #: the text as written
    specifier: str  #: PEP 440 specifier (``==1.26.4``), "" when none
    pinned: bool  #: an exact version (``==``/``===``, or conda ``=X.Y.Z``)
    path: str  #: file it comes from, relative POSIX
    line: int | None
    source: str  #: requirements.txt, environment.yml:conda, environment.yml:pip, Pipfile, Pipfile.lock, setup.py, pyproject.toml
    build: str | None = None  #: conda build string (``py311h64a7726_0``), a platform-specific export

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "raw": self.raw,
            "specifier": self.specifier,
            "pinned": self.pinned,
            "path": self.path,
            "line": self.line,
            "source": self.source,
            "build": self.build,
        }


class ProblemCode(Word):
    """The stable keys of :class:`EnvProblem` (the ENV checks map each to a rule)."""

    APT_INVALID = "apt-invalid"
    BINDER_BOTH = "binder-both"
    FILE_UNREADABLE = "file-unreadable"
    JSON_INVALID = "json-invalid"
    JULIA_REQUIRE = "julia-require"
    LEGACY_DOCKERFILE = "legacy-dockerfile"
    LINK_OUTSIDE = "link-outside"
    PYTHON_INVALID = "python-invalid"
    REQUIREMENT_INVALID = "requirement-invalid"
    REQUIRES_PYTHON = "requires-python"
    RUNTIME_INVALID = "runtime-invalid"
    TOML_INVALID = "toml-invalid"
    YAML_INVALID = "yaml-invalid"


@dataclass(frozen=True)
class EnvProblem:
    """Something in an environment file that repo2docker would refuse or misread."""

    code: ProblemCode  #: e.g. ``runtime-invalid``
    path: str | None
    message: str
    line: int | None = None


@dataclass(frozen=True)
class Runtime:
    """A ``runtime.txt``: ``python-3.11``, ``r-4.3-2024-01-15`` or ``r-2024-01-15``."""

    name: str | None = None  #: "python", "r", or None when there is no runtime.txt
    version: str | None = None  #: as written ("3.11.4"), None for ``r-2024-01-15``
    date: str | None = None  #: snapshot date (yyyy-mm-dd) or None
    text: str = ""  #: the line as written


def parse_runtime(text: str) -> Runtime:
    """repo2docker's ``runtime.txt`` grammar: name-version, name-version-yyyy-mm-dd, name-yyyy-mm-dd.

    Raises :class:`ValueError` for what repo2docker rejects.
    """
    value = text.strip()
    parts = value.split("-")
    if len(parts) not in (2, 4, 5) or any(not p for p in parts):
        raise ValueError(f"{value!r} is not of the form python-3.11, r-4.3-2024-01-15 or r-2024-01-15")
    name = parts[0]
    version = parts[1] if len(parts) in (2, 5) else None
    date = "-".join(parts[-3:]) if len(parts) in (4, 5) else None
    if date is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise ValueError(f"{date!r} in {value!r} is not a yyyy-mm-dd date")
    return Runtime(name, version, date, value)


def read_file(root: Path, rel: str) -> tuple[str | None, EnvProblem | None]:
    """Text of an environment file inside the repository, or the problem that stops reading it.

    Reads through :func:`paperpack.repository.files.read_repo_text`: a link leading out of the
    repository is a problem naming the file and the link's target, never its content.
    """
    try:
        return read_repo_text(root, rel, limit=MAX_BYTES), None
    except EnvironmentFileError as exc:
        return None, EnvProblem(
            ProblemCode.LINK_OUTSIDE if exc.link is not None else ProblemCode.FILE_UNREADABLE, rel, exc.message
        )
    except OSError as exc:
        return None, EnvProblem(ProblemCode.FILE_UNREADABLE, rel, f"{rel} cannot be read ({exc.strerror or exc})")


def read_text(root: Path, rel: str) -> str | None:
    """Text of a small file inside the repository, ``None`` when :func:`read_file` cannot read it."""
    text, _ = read_file(root, rel)
    return text


@dataclass(frozen=True)
class AptTxt:
    packages: list[str]  #: Debian package names (``name`` or ``name=version``), sorted, unique
    problems: list[EnvProblem]


def parse_apt_txt(root: Path, rel: str) -> AptTxt:
    """The Debian packages of an ``apt.txt`` (sorted, unique), and a problem per line that is not one.

    Each line goes to ``apt-get install`` as an argument: an option (``-o…``), a name
    with apt's ``-`` (remove) suffix, or anything but ``name`` / ``name=version`` is
    refused, so that a line can only ever install a package.
    """
    text, problem = read_file(root, rel)
    if text is None:
        return AptTxt([], [problem] if problem else [])
    names: set[str] = set()
    problems: list[EnvProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if _APT_NAME.match(name):
            names.add(name)
            continue
        why = (
            "looks like an option of apt-get"
            if name.startswith("-")
            else "ends with '-', which tells apt-get to remove the package"
            if name.split("=")[0].endswith("-")
            else "is not a Debian package name"
        )
        problems.append(EnvProblem(ProblemCode.APT_INVALID, rel, f"{name[:80]!r} {why}", number))
    return AptTxt(sorted(names), problems)


def pins_release(version: str) -> bool:
    """Whether ``==version`` names one release line at least: ``1.2.3`` and ``3.10.*`` do, ``3.*`` does not."""
    if not version.endswith(".*"):
        return "*" not in version
    return "*" not in version[:-2] and version[:-2].count(".") >= 1


def _from_pep508(text: str, path: str, line: int | None, source: str) -> Requirement:
    req = PkgRequirement(text)
    spec = str(req.specifier)
    only = next(iter(req.specifier)) if len(req.specifier) == 1 else None
    pinned = only is not None and only.operator in _PINNED_OPS and pins_release(only.version)
    return Requirement(canonicalize_name(req.name), text, spec, pinned, path, line, source)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined, comments removed, keeping the first line number."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buf:
            start = number
        line = re.sub(r"(^|\s)#.*$", "", raw)
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    if buf.strip():
        out.append((start, buf.strip()))
    return out


_EDITABLE = re.compile(r"^\s*(-e|--editable)(\s+|=)")
_LOCAL = re.compile(r"^(\.|/|~|file:)|\s@\s*file:|^(-r|--requirement|-c|--constraint)(\s|=)")


def is_local_requirement(text: str) -> bool:
    """Whether one requirement line names files of the repository.

    ``.``, ``-e .``, ``./pkg``, ``sub/pkg``, ``/abs``, ``~/x``, ``file:…``, ``name @ file:…``, and
    ``-r``/``-c`` of another file. The one test for it: validate, the offline build and the local
    engine all ask here.
    """
    line = _EDITABLE.sub("", text).strip()
    first = re.split(r"[\s;]", line, maxsplit=1)[0]
    return bool(_LOCAL.search(line)) or ("/" in first and "://" not in first and "@" not in first)


def is_editable(text: str) -> bool:
    """``-e …`` / ``--editable …`` (a local path or a VCS checkout pip installs in place)."""
    return bool(_EDITABLE.match(text))


@dataclass
class PipRequirements:
    """What a pip requirements file (and the files it includes with ``-r``) declares."""

    requirements: list[Requirement] = field(default_factory=list)
    problems: list[EnvProblem] = field(default_factory=list)
    local: list[str] = field(default_factory=list)  #: lines pip installs from files, VCS or URLs, not an index
    files: list[str] = field(default_factory=list)  #: the file and those it includes, relative POSIX
    includes: list[str] = field(default_factory=list)  #: ``-r``/``-c`` lines: pip reads other files of the repository

    @property
    def reads_repo(self) -> bool:
        """Whether pip needs the repository's files (not only this file) to install it."""
        return bool(self.local or self.includes)


def parse_requirements_txt(root: Path, rel: str, *, _seen: frozenset[str] = frozenset()) -> PipRequirements:
    """Requirements of a pip requirements file, following ``-r`` includes inside the repository."""
    text, problem = read_file(root, rel)
    if text is None:
        return PipRequirements(problems=[problem] if problem else [])
    reqs: list[Requirement] = []
    problems: list[EnvProblem] = []
    local: list[str] = []
    includes: list[str] = []
    files = [rel]
    base = Path(rel).parent
    for number, line in logical_lines(text):
        include = re.match(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)", line)
        if include:
            includes.append(line)
            target = (base / include.group(2)).as_posix()
            if include.group(1) in ("-r", "--requirement") and target not in _seen and ".." not in Path(target).parts:
                sub = parse_requirements_txt(root, target, _seen=_seen | {rel})
                reqs += sub.requirements
                problems += sub.problems
                local += sub.local
                files += sub.files
            continue
        if is_local_requirement(line):
            local.append(line)
            continue
        if line.startswith("-"):  # --index-url, --extra-index-url, --find-links, -e git+…
            if line.startswith(("-e", "--editable")):
                local.append(line)
            continue
        spec = re.split(r"\s+--?[a-z]", " " + line)[0].strip() if " -" in line else line
        if "://" in spec and "@" not in spec:
            local.append(spec)  # a bare URL to an archive or VCS
            continue
        try:
            reqs.append(_from_pep508(spec, rel, number, "requirements.txt"))
        except InvalidRequirement as exc:
            problems.append(
                EnvProblem(
                    ProblemCode.REQUIREMENT_INVALID,
                    rel,
                    f"{spec!r} is not a valid requirement: {str(exc).splitlines()[0]}",
                    number,
                )
            )
    return PipRequirements(reqs, problems, local, files, includes)


@dataclass(frozen=True)
class CondaSpec:
    """A conda match spec (``conda-forge::numpy=1.26.4=py311h64a7726_0``) read once, for every reader."""

    name: str  #: as written (``numpy``)
    specifier: str  #: the PEP 440 equivalent: conda ``=1.26`` is ``==1.26.*`` (fuzzy), ``=1.26.4`` ``==1.26.4``
    pinned: bool  #: an exact version to major.minor at least (``=1.26``, ``=1.26.4``, ``==1.26.4``)
    build: str | None = None  #: build string, a platform-specific export
    channel: str | None = None


def parse_conda_spec(spec: str) -> CondaSpec | None:
    """The conda match spec ``spec``, or ``None`` when it is not one."""
    m = _CONDA_SPEC.match(spec.strip())
    if not m:
        return None
    name, op, version, build = m.group("name"), m.group("op"), m.group("version"), m.group("build")
    channel = m.group("channel")
    if version is None:
        return CondaSpec(name, "", False, None, channel)
    if op in (None, "="):
        wildcard = version.endswith("*")
        exact = version.rstrip(".*")
        pinned = exact.count(".") >= 1  # `=1.26`, `=1.26.*` and `=1.26.4` all pin 1.26 at least
        # conda's `=1.26` is the fuzzy 1.26.*; only three parts name one release
        fuzzy = wildcard or exact.count(".") < 2
        return CondaSpec(name, f"=={exact}.*" if fuzzy else f"=={exact}", pinned, build, channel)
    return CondaSpec(name, f"{op}{version}", op == "==" and pins_release(version), build, channel)


@dataclass
class CondaEnv:
    """What an ``environment.yml`` declares."""

    requirements: list[Requirement]
    problems: list[EnvProblem]
    python: str | None = None  #: from ``- python=3.11``
    conda_names: list[str] = field(default_factory=list)  #: lower-case conda package names
    included: list[str] = field(default_factory=list)  #: files pulled in by ``- pip: [-r requirements.txt]``
    local: list[str] = field(default_factory=list)  #: ``- pip:`` items that install files of the repository
    declared: bool = False  #: a ``dependencies:`` list is there (an offline build needs one)
    unknown: list[str] = field(default_factory=list)  #: mappings under dependencies other than ``pip:``

    @property
    def pip_requirements(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.source.endswith(":conda")]

    @property
    def conda_requirements(self) -> list[Requirement]:
        return [r for r in self.requirements if r.source.endswith(":conda")]


def parse_environment_yml(root: Path, rel: str) -> CondaEnv:
    """The packages, Python version and included pip files of a conda ``environment.yml``."""
    text, unreadable = read_file(root, rel)
    if text is None:
        return CondaEnv([], [unreadable] if unreadable else [])
    from ruamel.yaml import YAML  # here: without YAML files, never imported
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        problem, line = yaml_problem(exc)
        return CondaEnv([], [EnvProblem(ProblemCode.YAML_INVALID, rel, f"YAML syntax error: {problem}", line)])
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, dict):
        return CondaEnv(
            [],
            [
                EnvProblem(
                    ProblemCode.YAML_INVALID, rel, "environment.yml must be a mapping with a 'dependencies' list", 1
                )
            ],
        )
    deps = doc.get("dependencies") or []
    if not isinstance(deps, list):
        return CondaEnv([], [EnvProblem(ProblemCode.YAML_INVALID, rel, "'dependencies' must be a list", None)])
    out = CondaEnv([], [], declared=isinstance(doc.get("dependencies"), list))
    reqs, problems, conda_names = out.requirements, out.problems, out.conda_names
    for i, dep in enumerate(deps):
        line = yaml_line(deps, i)
        if isinstance(dep, dict):
            out.unknown += [str(key) for key in dep if key != "pip"]
            pips = dep.get("pip") or []
            for j, item in enumerate(pips if isinstance(pips, list) else []):
                pline = yaml_line(pips, j) if isinstance(pips, CommentedSeq) else line
                item = str(item)
                include = re.match(r"^(?:-r|--requirement)\s*=?\s*(\S+)", item)
                if include:  # pip reads it relative to the environment file's folder
                    target = (Path(rel).parent / include.group(1)).as_posix()
                    if ".." not in Path(target).parts:
                        sub = parse_requirements_txt(root, target)
                        reqs += sub.requirements
                        problems += sub.problems
                        out.included += sub.files
                    continue
                if is_local_requirement(item) or item.startswith("-"):
                    if is_local_requirement(item):
                        out.local.append(item)
                    continue
                try:
                    reqs.append(_from_pep508(item, rel, pline, "environment.yml:pip"))
                except InvalidRequirement as exc:
                    problems.append(
                        EnvProblem(
                            ProblemCode.REQUIREMENT_INVALID,
                            rel,
                            f"{item!r} is not a valid pip requirement: {str(exc).splitlines()[0]}",
                            pline,
                        )
                    )
            continue
        parsed = parse_conda_spec(str(dep))
        if parsed is None:
            problems.append(
                EnvProblem(ProblemCode.REQUIREMENT_INVALID, rel, f"{dep!r} is not a conda package spec", line)
            )
            continue
        name = parsed.name
        conda_names.append(name.lower())
        if name.lower() == "python":
            m = re.match(r"[=<>~!]*(\d+(?:\.\d+)?)", parsed.specifier.lstrip("=") or "")
            out.python = m.group(1) if m else None
            continue
        if name.lower() == "pip":
            continue
        reqs.append(
            Requirement(
                canonicalize_name(name),
                str(dep),
                parsed.specifier,
                parsed.pinned,
                rel,
                line,
                "environment.yml:conda",
                parsed.build,
            )
        )
    return out


def _toml(root: Path, rel: str) -> tuple[dict[str, Any] | None, EnvProblem | None, str]:
    text = read_text(root, rel) or ""
    try:
        return tomllib.loads(text), None, text
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        return (
            None,
            EnvProblem(ProblemCode.TOML_INVALID, rel, f"TOML syntax error: {exc}", int(m.group(1)) if m else None),
            text,
        )


#: the tables of a Pipfile that pipenv installs (repo2docker installs both)
PIPFILE_SECTIONS = ("packages", "dev-packages")
#: the keys of ``[requires]`` that name the Python, in the order pipenv reads them
PIPFILE_PYTHON_KEYS = ("python_version", "python_full_version")
#: keys of a Pipfile entry's table that install it from elsewhere than the package index (git, a path, a URL)
_PIPFILE_NOT_INDEX = ("git", "path", "file", "editable", "ref")


def pipfile_table_line(lines: list[str], section: str) -> int | None:
    """The 0-based line of the ``[section]`` header in ``lines`` (a comment after it allowed)."""
    header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]\s*(#.*)?$")
    return next((i for i, raw in enumerate(lines) if header.match(raw)), None)


def _key_line(lines: list[str], start: int, key: str) -> int | None:
    """The 0-based line of ``key = …`` from ``start`` to the next table header."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for i in range(start, len(lines)):
        if lines[i].lstrip().startswith("["):
            return None
        if pattern.match(lines[i]):
            return i
    return None


@dataclass(frozen=True)
class PipfileEntry:
    """One entry of a Pipfile's ``[packages]`` or ``[dev-packages]``."""

    section: str
    name: str  #: as written
    value: Any  #: what the TOML holds: a version (``"*"``, ``">=1.20"``) or a table
    line: int | None  #: 0-based line of its key, looked for in its own table

    @property
    def version(self) -> str:
        """The version as written (``*``, ``>=1.20``): the string, or the table's ``version`` key; ``*`` if none."""
        if isinstance(self.value, dict):
            return str(self.value.get("version", "*"))
        return self.value if isinstance(self.value, str) else "*"

    @property
    def specifier(self) -> str:
        """The PEP 440 specifier, "" for ``*``."""
        version = self.version.strip()
        return "" if version == "*" else version

    @property
    def from_index(self) -> bool:
        """Whether pipenv installs it from the package index (not from git, a path or a URL)."""
        return not (isinstance(self.value, dict) and any(k in self.value for k in _PIPFILE_NOT_INDEX))

    @property
    def requirement(self) -> str:
        """The entry as pip reads it (``plots[fast]>=3``)."""
        extras = self.value.get("extras") if isinstance(self.value, dict) else None
        extra = f"[{','.join(map(str, extras))}]" if isinstance(extras, list) and extras else ""
        return f"{self.name}{extra}{self.specifier}"


def pipfile_entries(doc: dict[str, Any], text: str) -> list[PipfileEntry]:
    """The entries of ``[packages]`` then ``[dev-packages]`` of the Pipfile ``text`` (parsed as ``doc``)."""
    lines = text.splitlines()
    out: list[PipfileEntry] = []
    for section in PIPFILE_SECTIONS:
        header = pipfile_table_line(lines, section)
        table = doc.get(section)
        for name, value in (table if isinstance(table, dict) else {}).items():  # another shape: pipfile_problems
            line = None if header is None else _key_line(lines, header + 1, name)
            out.append(PipfileEntry(section, name, value, line))
    return out


def _line(found: int | None) -> int | None:
    return None if found is None else found + 1


def pipfile_problems(doc: dict[str, Any], text: str, rel: str) -> list[EnvProblem]:
    """What in a Pipfile pipenv cannot read, named, never crashed on: a table of another shape
    (``packages = ["numpy"]``), a Python version written as a number (``python_version = 3.10``, read as 3.1)."""
    lines = text.splitlines()
    problems = []
    for section in (*PIPFILE_SECTIONS, "requires"):
        value = doc.get(section)
        if value is not None and not isinstance(value, dict):
            example = 'python_version = "3.11"' if section == "requires" else 'numpy = ">=1.24"'
            message = (
                f"[{section}] is {kind_words(value)}, not a table: pipenv and repo2docker cannot read it; write it "
                f"as a table, one entry a line ([{section}] then {example})"
            )
            problems.append(EnvProblem(ProblemCode.TOML_INVALID, rel, message, _line(_key_line(lines, 0, section))))
    header = pipfile_table_line(lines, "requires")
    for key, value in _table(doc, "requires").items():
        if key in PIPFILE_PYTHON_KEYS and not isinstance(value, str):
            line = None if header is None else _key_line(lines, header + 1, key)
            written = lines[line].split("=", 1)[1].split("#", 1)[0].strip() if line is not None else str(value)
            message = (
                f"[requires] {key} is {kind_words(value)} ({written}), which pipenv does not read (TOML reads 3.10 "
                f'as 3.1): write it as a string: {key} = "{written}"'
            )
            problems.append(EnvProblem(ProblemCode.TOML_INVALID, rel, message, _line(line)))
    return problems


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` when it is a table (a dict), else empty: what an untrusted file holds there is not trusted."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _python_version(requires: dict[str, Any]) -> str | None:
    """``python_version`` or ``python_full_version`` of a Pipfile's ``[requires]`` (or a lock's); only a string
    (a number is not what was written: 3.10 reads as 3.1), else None and :func:`pipfile_problems` says so."""
    found = [requires.get(key) for key in PIPFILE_PYTHON_KEYS]
    return next((value for value in found if isinstance(value, str) and value), None)


@dataclass(frozen=True)
class Pipenv:
    requirements: list[Requirement]
    problems: list[EnvProblem]
    python: str | None  #: ``[requires] python_version``


def parse_pipfile(root: Path, rel: str, lock: str | None) -> Pipenv:
    """Requirements from ``Pipfile.lock`` when it exists (what pipenv installs), else ``Pipfile``."""
    problems: list[EnvProblem] = []
    reqs: list[Requirement] = []
    python: str | None = None
    if lock is not None:
        text = read_text(root, lock) or ""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return Pipenv(
                [], [EnvProblem(ProblemCode.JSON_INVALID, lock, f"not valid JSON: {exc.msg}", exc.lineno)], None
            )
        if not isinstance(data, dict):
            message = f"the file is {kind_words(data)}, not the JSON object pipenv writes; run `pipenv lock` again"
            return Pipenv([], [EnvProblem(ProblemCode.JSON_INVALID, lock, message, 1)], None)
        lines = text.splitlines()
        for section in ("default", "develop"):
            for name, info in _table(data, section).items():
                version = info.get("version", "") if isinstance(info, dict) else ""
                version = version if isinstance(version, str) else ""
                line = next((n for n, t in enumerate(lines, 1) if t.strip().startswith(f'"{name}"')), None)
                reqs.append(
                    Requirement(
                        canonicalize_name(name),
                        f"{name}{version}",
                        version,
                        version.startswith("=="),
                        lock,
                        line,
                        "Pipfile.lock",
                    )
                )
        python = _python_version(_table(_table(data, "_meta"), "requires"))
    if rel and (lock is None or not reqs):
        doc, problem, text = _toml(root, rel)
        if problem:
            return Pipenv(reqs, problems + [problem], python)
        assert doc is not None
        problems += pipfile_problems(doc, text, rel)
        for entry in pipfile_entries(doc, text):
            reqs.append(
                Requirement(
                    canonicalize_name(entry.name),
                    f"{entry.name} = {entry.value!r}",
                    entry.specifier,
                    entry.specifier.startswith("=="),
                    rel,
                    None if entry.line is None else entry.line + 1,
                    "Pipfile",
                )
            )
        python = python or _python_version(_table(doc, "requires"))
    return Pipenv(reqs, problems, python)


@dataclass(frozen=True)
class SetupPy:
    requirements: list[Requirement]
    problems: list[EnvProblem]
    name: str | None  #: ``setup(name=...)`` when a string literal


def parse_setup_py(root: Path, rel: str) -> SetupPy:
    """``install_requires`` string literals and ``name=`` of a ``setup()`` call, read with :mod:`ast`."""
    text = read_text(root, rel) or ""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return SetupPy(
            [], [EnvProblem(ProblemCode.PYTHON_INVALID, rel, f"Python syntax error: {exc.msg}", exc.lineno)], None
        )
    reqs: list[Requirement] = []
    problems: list[EnvProblem] = []
    name: str | None = None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "setup"):
            continue
        for kw in node.keywords:
            if kw.arg == "name" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                name = kw.value.value
            if kw.arg == "install_requires" and isinstance(kw.value, (ast.List, ast.Tuple)):
                for elt in kw.value.elts:
                    if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                        try:
                            reqs.append(_from_pep508(elt.value, rel, elt.lineno, "setup.py"))
                        except InvalidRequirement as exc:
                            problems.append(
                                EnvProblem(ProblemCode.REQUIREMENT_INVALID, rel, f"{elt.value!r}: {exc}", elt.lineno)
                            )
    return SetupPy(reqs, problems, name)


@dataclass(frozen=True)
class PyProject:
    requirements: list[Requirement]
    problems: list[EnvProblem]
    name: str | None  #: ``[project] name``
    requires_python: str | None  #: ``[project] requires-python``
    installable: bool  #: both ``[project]`` and ``[build-system]``: repo2docker runs ``pip install .``
    declares_project: bool = False  #: a ``[project]`` table (tool settings alone are not an environment file)


def parse_pyproject(root: Path, rel: str) -> PyProject:
    """The ``[project]`` of a ``pyproject.toml``: dependencies, name, requires-python, installable."""
    doc, problem, text = _toml(root, rel)
    if problem:
        return PyProject([], [problem], None, None, False, bool(re.search(r"^\s*\[project\]", text, re.M)))
    assert doc is not None
    project = doc.get("project") or {}
    reqs: list[Requirement] = []
    problems: list[EnvProblem] = []
    lines = text.splitlines()
    for dep in project.get("dependencies") or []:
        line = next((n for n, t in enumerate(lines, 1) if dep in t), None)
        try:
            reqs.append(_from_pep508(dep, rel, line, "pyproject.toml"))
        except InvalidRequirement as exc:
            problems.append(EnvProblem(ProblemCode.REQUIREMENT_INVALID, rel, f"{dep!r}: {exc}", line))
    installable = "project" in doc and "build-system" in doc
    return PyProject(reqs, problems, project.get("name"), project.get("requires-python"), installable, "project" in doc)
