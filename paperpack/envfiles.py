"""Parsers for the environment files repo2docker reads, with file and line for every entry.

Each parser takes the repository root and a relative path and returns
:class:`Requirement` entries plus :class:`EnvProblem` for what it could not read.
They never raise on bad content: a broken file is a finding, not a crash.
Used by :mod:`paperpack.discover`, which decides *which* files count.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .errors import EnvironmentFileError
from .manifest import yaml_problem
from .repofile import MAX_ENV_BYTES, read_repo_text

__all__ = [
    "Requirement",
    "EnvProblem",
    "parse_requirements_txt",
    "parse_apt_txt",
    "parse_environment_yml",
    "CondaEnv",
    "parse_pipfile",
    "parse_setup_py",
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
        return {"name": self.name, "raw": self.raw, "specifier": self.specifier, "pinned": self.pinned,
                "path": self.path, "line": self.line, "source": self.source, "build": self.build}


@dataclass(frozen=True)
class EnvProblem:
    """Something in an environment file that repo2docker would refuse or misread."""

    code: str  #: stable key the ENV checks map to a rule, e.g. ``runtime-invalid``
    path: str | None
    message: str
    line: int | None = None


def read_file(root: Path, rel: str) -> tuple[str | None, EnvProblem | None]:
    """Text of an environment file inside the repository, or the problem that stops reading it.

    Reads through :func:`paperpack.repofile.read_repo_text`: a link leading out of the
    repository is a problem naming the file and the link's target, never its content.
    """
    try:
        return read_repo_text(root, rel, limit=MAX_BYTES), None
    except EnvironmentFileError as exc:
        return None, EnvProblem("link-outside" if exc.link is not None else "file-unreadable",
                                rel, exc.message)
    except OSError as exc:
        return None, EnvProblem("file-unreadable", rel, f"{rel} cannot be read ({exc.strerror or exc})")


def read_text(root: Path, rel: str) -> str | None:
    """Text of a small file inside the repository, ``None`` when :func:`read_file` cannot read it."""
    return read_file(root, rel)[0]


def parse_apt_txt(root: Path, rel: str) -> tuple[list[str], list[EnvProblem]]:
    """The Debian packages of an ``apt.txt`` (sorted, unique), and a problem per line that is not one.

    Each line goes to ``apt-get install`` as an argument: an option (``-o…``), a name
    with apt's ``-`` (remove) suffix, or anything but ``name`` / ``name=version`` is
    refused, so that a line can only ever install a package.
    """
    text, problem = read_file(root, rel)
    if text is None:
        return [], [problem] if problem else []
    names: set[str] = set()
    problems: list[EnvProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if _APT_NAME.match(name):
            names.add(name)
            continue
        why = ("looks like an option of apt-get" if name.startswith("-")
               else "ends with '-', which tells apt-get to remove the package" if name.split("=")[0].endswith("-")
               else "is not a Debian package name")
        problems.append(EnvProblem("apt-invalid", rel, f"{name[:80]!r} {why}", number))
    return sorted(names), problems


def _from_pep508(text: str, path: str, line: int | None, source: str) -> Requirement:
    req = PkgRequirement(text)
    spec = str(req.specifier)
    only = next(iter(req.specifier)) if len(req.specifier) == 1 else None
    pinned = only is not None and only.operator in _PINNED_OPS and "*" not in only.version
    return Requirement(canonicalize_name(req.name), text, spec, pinned, path, line, source)


def _logical_lines(text: str) -> list[tuple[int, str]]:
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


def is_local_requirement(text: str) -> bool:
    """``.``, ``-e .``, ``./pkg``, ``file:…``: the repository installs itself (as repo2docker sees it)."""
    t = re.sub(r"^(-e|--editable)\s+", "", text.strip())
    return t.startswith((".", "/", "file:")) or t in {"."}


def parse_requirements_txt(root: Path, rel: str, *, _seen: frozenset[str] = frozenset()
                           ) -> tuple[list[Requirement], list[EnvProblem], list[str], list[str]]:
    """Requirements of a pip requirements file, following ``-r`` includes inside the repository.

    Returns (requirements, problems, local references, files read).
    """
    text, problem = read_file(root, rel)
    if text is None:
        return [], [problem] if problem else [], [], []
    reqs: list[Requirement] = []
    problems: list[EnvProblem] = []
    local: list[str] = []
    files = [rel]
    base = Path(rel).parent
    for number, line in _logical_lines(text):
        include = re.match(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)", line)
        if include:
            target = (base / include.group(2)).as_posix()
            if include.group(1) in ("-r", "--requirement") and target not in _seen and ".." not in Path(target).parts:
                sub = parse_requirements_txt(root, target, _seen=_seen | {rel})
                reqs += sub[0]
                problems += sub[1]
                local += sub[2]
                files += sub[3]
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
            problems.append(EnvProblem("requirement-invalid", rel,
                                       f"{spec!r} is not a valid requirement: {str(exc).splitlines()[0]}", number))
    return reqs, problems, local, files


def _yaml_line(node: Any, index: int) -> int | None:
    try:
        return int(node.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


def parse_conda_spec(spec: str) -> tuple[str, str, bool, str | None] | None:
    """(name, PEP 440 specifier, pinned, build string) of a conda match spec, or ``None``."""
    m = _CONDA_SPEC.match(spec.strip())
    if not m:
        return None
    name, op, version, build = m.group("name"), m.group("op"), m.group("version"), m.group("build")
    if version is None:
        return name, "", False, None
    if op in (None, "="):
        wildcard = version.endswith("*")
        exact = version.rstrip(".*")
        pinned = not wildcard and exact.count(".") >= 1
        return name, (f"=={exact}.*" if wildcard or not pinned else f"=={exact}"), pinned, build
    return name, f"{op}{version}", op == "==" and "*" not in version, build


@dataclass
class CondaEnv:
    """What an ``environment.yml`` declares."""

    requirements: list[Requirement]
    problems: list[EnvProblem]
    python: str | None = None  #: from ``- python=3.11``
    conda_names: list[str] = field(default_factory=list)  #: lower-case conda package names
    included: list[str] = field(default_factory=list)  #: files pulled in by ``- pip: [-r requirements.txt]``


def parse_environment_yml(root: Path, rel: str) -> CondaEnv:
    """The packages, Python version and included pip files of a conda ``environment.yml``."""
    text, unreadable = read_file(root, rel)
    if text is None:
        return CondaEnv([], [unreadable] if unreadable else [])
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        problem, line = yaml_problem(exc)
        return CondaEnv([], [EnvProblem("yaml-invalid", rel, f"YAML syntax error: {problem}", line)])
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, dict):
        return CondaEnv([], [EnvProblem("yaml-invalid", rel, "environment.yml must be a mapping with a "
                                        "'dependencies' list", 1)])
    deps = doc.get("dependencies") or []
    if not isinstance(deps, list):
        return CondaEnv([], [EnvProblem("yaml-invalid", rel, "'dependencies' must be a list", None)])
    out = CondaEnv([], [])
    reqs, problems, conda_names = out.requirements, out.problems, out.conda_names
    for i, dep in enumerate(deps):
        line = _yaml_line(deps, i) if isinstance(deps, CommentedSeq) else None
        if isinstance(dep, dict):
            pips = dep.get("pip") or []
            for j, item in enumerate(pips if isinstance(pips, list) else []):
                pline = _yaml_line(pips, j) if isinstance(pips, CommentedSeq) else line
                item = str(item)
                include = re.match(r"^(?:-r|--requirement)\s*=?\s*(\S+)", item)
                if include:  # pip reads it relative to the environment file's folder
                    target = (Path(rel).parent / include.group(1)).as_posix()
                    if ".." not in Path(target).parts:
                        sub = parse_requirements_txt(root, target)
                        reqs += sub[0]
                        problems += sub[1]
                        out.included += sub[3]
                    continue
                if is_local_requirement(item) or item.startswith("-"):
                    continue
                try:
                    reqs.append(_from_pep508(item, rel, pline, "environment.yml:pip"))
                except InvalidRequirement as exc:
                    problems.append(EnvProblem("requirement-invalid", rel,
                                               f"{item!r} is not a valid pip requirement: "
                                               f"{str(exc).splitlines()[0]}", pline))
            continue
        parsed = parse_conda_spec(str(dep))
        if parsed is None:
            problems.append(EnvProblem("requirement-invalid", rel, f"{dep!r} is not a conda package spec", line))
            continue
        name, spec, pinned, build = parsed
        conda_names.append(name.lower())
        if name.lower() == "python":
            m = re.match(r"[=<>~!]*(\d+(?:\.\d+)?)", spec.lstrip("=") or "")
            out.python = m.group(1) if m else None
            continue
        if name.lower() == "pip":
            continue
        reqs.append(Requirement(canonicalize_name(name), str(dep), spec, pinned, rel, line,
                                "environment.yml:conda", build))
    return out


def _toml(root: Path, rel: str) -> tuple[dict[str, Any] | None, EnvProblem | None, str]:
    text = read_text(root, rel) or ""
    try:
        return tomllib.loads(text), None, text
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        return None, EnvProblem("toml-invalid", rel, f"TOML syntax error: {exc}", int(m.group(1)) if m else None), text


def _line_of_key(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def parse_pipfile(root: Path, rel: str, lock: str | None
                  ) -> tuple[list[Requirement], list[EnvProblem], str | None]:
    """Requirements from ``Pipfile.lock`` when it exists (what pipenv installs), else ``Pipfile``."""
    problems: list[EnvProblem] = []
    reqs: list[Requirement] = []
    python: str | None = None
    if lock is not None:
        try:
            data = json.loads(read_text(root, lock) or "")
        except json.JSONDecodeError as exc:
            return [], [EnvProblem("json-invalid", lock, f"not valid JSON: {exc.msg}", exc.lineno)], None
        text = read_text(root, lock) or ""
        for section in ("default", "develop"):
            for name, info in (data.get(section) or {}).items():
                version = info.get("version", "") if isinstance(info, dict) else ""
                line = next((n for n, t in enumerate(text.splitlines(), 1) if t.strip().startswith(f'"{name}"')), None)
                reqs.append(Requirement(canonicalize_name(name), f"{name}{version}", version,
                                        version.startswith("=="), lock, line, "Pipfile.lock"))
        requires = (data.get("_meta") or {}).get("requires") or {}
        python = requires.get("python_version") or requires.get("python_full_version")
    if rel and (lock is None or not reqs):
        doc, problem, text = _toml(root, rel)
        if problem:
            return reqs, problems + [problem], python
        assert doc is not None
        for section in ("packages", "dev-packages"):
            for name, value in (doc.get(section) or {}).items():
                version = value if isinstance(value, str) else (value.get("version", "*") if isinstance(value, dict) else "*")
                spec = "" if version in ("*", "") else version
                pinned = spec.startswith("==")
                reqs.append(Requirement(canonicalize_name(name), f"{name} = {value!r}", spec, pinned, rel,
                                        _line_of_key(text, name), "Pipfile"))
        requires = doc.get("requires") or {}
        python = python or requires.get("python_version") or requires.get("python_full_version")
    return reqs, problems, python


def parse_setup_py(root: Path, rel: str) -> tuple[list[Requirement], list[EnvProblem], str | None]:
    """``install_requires`` string literals and ``name=`` of a ``setup()`` call, read with :mod:`ast`."""
    text = read_text(root, rel) or ""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return [], [EnvProblem("python-invalid", rel, f"Python syntax error: {exc.msg}", exc.lineno)], None
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
                            problems.append(EnvProblem("requirement-invalid", rel, f"{elt.value!r}: {exc}", elt.lineno))
    return reqs, problems, name


def parse_pyproject(root: Path, rel: str
                    ) -> tuple[list[Requirement], list[EnvProblem], str | None, str | None, bool]:
    """(requirements, problems, project name, requires-python, is an installable package)."""
    doc, problem, text = _toml(root, rel)
    if problem:
        return [], [problem], None, None, False
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
            problems.append(EnvProblem("requirement-invalid", rel, f"{dep!r}: {exc}", line))
    installable = "project" in doc and "build-system" in doc
    return reqs, problems, project.get("name"), project.get("requires-python"), installable
