"""Dependency family (DEP): every module the notebooks import is declared.

Imports come from the code cells of Python notebooks (IPython magics stripped, see
:mod:`paperpack.notebook.pysource`) and, recursively, from the repository's own ``.py`` modules
that the notebooks import. An import is satisfied when it is in the standard library,
is a local module, is part of the Jupyter kernel every image has
(:data:`paperpack.notebook.importmap.IMAGE_PROVIDED`), sits in ``try: … except ImportError``, or
is provided by a declared requirement (environment files, and what ``postBuild`` installs:
:mod:`paperpack.environment.postbuild`): by the distributions' own metadata where it is known
(the files of the wheels pip resolved, the installed distributions' top_level.txt and RECORD),
else by the name table (:func:`paperpack.notebook.importmap.distributions_for`). Covered only through another
declared package's dependencies is a warning (installed, unpinned): pip's resolver gives that
closure (:mod:`paperpack.environment.closure`, asked only when some import is not declared); without it the
table :data:`paperpack.notebook.importmap.REQUIRES` does, and an import a package outside the table might
bring is a warning, not an error.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..environment import DEFAULT_PYTHON, Environment, Requirement
from ..environment.closure import Closure, ClosureStatus, resolvable, resolve_closure
from ..environment.conda import METAPACKAGE_EXTRAS, conda_only, pip_requirement
from ..environment.postbuild import PostBuild, read_postbuild
from ..notebook.importmap import (
    BACKENDS,
    IMAGE_PROVIDED,
    REQUIRES,
    distributions_for,
    installed_modules,
    requires_closure,
)
from ..notebook.parse import NotebookProblem
from ..notebook.pysource import CodeFacts, analyse
from ..repository.repo import Repo
from . import CheckContext
from .environment import environment_of
from .findings import Finding, Rule, Severity
from .notebooks import code_facts, parsed_notebooks

__all__ = ["check"]

_F = "dependencies"
DEP001 = Rule(
    "DEP001",
    "import-undeclared",
    Severity.ERROR,
    "A module imported but not declared is not installed in the built image: the notebook stops with "
    "ModuleNotFoundError, the most common reason published notebooks fail to re-run.",
    family=_F,
)
DEP002 = Rule(
    "DEP002",
    "import-transitive",
    Severity.WARNING,
    "A module installed only because another declared package depends on it is not pinned: its version "
    "can change, or it can disappear when that package changes its dependencies.",
    family=_F,
)
DEP003 = Rule(
    "DEP003",
    "requirement-unused",
    Severity.INFO,
    "A requirement no notebook or local module imports makes the image larger and slower to build; it "
    "may still be needed as a plugin or backend (openpyxl for read_excel, pyarrow for parquet).",
    family=_F,
)
DEP004 = Rule(
    "DEP004",
    "code-syntax-error",
    Severity.ERROR,
    "Code that does not parse fails when run, and paperpack cannot see what it imports or reads.",
    family=_F,
)
DEP005 = Rule(
    "DEP005",
    "import-maybe-transitive",
    Severity.WARNING,
    "An import no declared requirement names may still be installed by a declared package's own "
    "dependencies; without pip's resolver (offline, or no index) paperpack cannot tell, so it is not "
    "called an error.",
    family=_F,
)
DEP006 = Rule(
    "DEP006",
    "requirements-unresolvable",
    Severity.WARNING,
    "pip cannot install the declared requirements for the target Python (a pin with no wheel for it, "
    "or pins that conflict): the commonest reason an image build fails, caught before building.",
    family=_F,
)
DEP007 = Rule(
    "DEP007",
    "build-time-download",
    Severity.WARNING,
    "Data downloaded by postBuild is fetched at every build, unpinned and unchecked: the URL can move, "
    "the file can change, and a build without network cannot fetch it.",
    family=_F,
)
DEP008 = Rule(
    "DEP008",
    "postbuild-unclear",
    Severity.INFO,
    "postBuild installs something paperpack cannot read (a file outside the repository, a name made by "
    "the shell), so imports it provides cannot be checked.",
    family=_F,
)
DEP009 = Rule(
    "DEP009",
    "import-conditional",
    Severity.WARNING,
    "An import inside a function, or in the fallback branch of a try/except ImportError, runs only on "
    "some paths; if a run reaches it undeclared, it fails with ModuleNotFoundError.",
    family=_F,
)
DEP010 = Rule(
    "DEP010",
    "conda-metapackage-translated",
    Severity.WARNING,
    "conda-forge's package of some names is a metapackage that installs more than the PyPI package of "
    "the same name (conda's dask brings distributed, bokeh, pyarrow …; PyPI's dask does not): an import "
    "that relies on it works in a conda (binder) build and fails in paperpack's offline build, which "
    "installs environment.yml's packages from PyPI.",
    family=_F,
)

_STDLIB = frozenset(sys.stdlib_module_names) | {"__main__", "__future__"}
_NOT_PACKAGES = frozenset(
    {
        "python",
        "pip",
        "setuptools",
        "wheel",
        "ipykernel",
        "ipython",
        "jupyter",
        "jupyterlab",
        "notebook",
        "nbconvert",
        "jupyter-client",
        "jupyter-core",
    }
)


@dataclass(frozen=True)
class _Use:
    module: str
    path: str  # notebook or .py file
    cell: int | None
    line: int  # line in the cell, or in the file
    conditional: bool = False  # inside a function, or an ImportError fallback: runs on some paths only
    call: str = ""  #: a call that needs a backend (``read_excel``): ``module`` is then the backend's first name

    def needs(self) -> tuple[str, ...]:
        """Distributions any of which provides what this use needs."""
        return BACKENDS[self.call][1] if self.call else distributions_for(self.module)

    def what(self) -> str:
        return f"`{self.call}` (for {BACKENDS[self.call][0]})" if self.call else f"`import {self.module}`"


def check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]:
    env = environment_of(repo, ctx)
    notebooks = parsed_notebooks(repo, ctx)
    facts = code_facts(repo, ctx)
    yield from _syntax_errors(notebooks, facts)
    post = read_postbuild(repo.root, env.path("postBuild")) if env.path("postBuild") in env.files else None
    ctx.cache["postbuild"] = post
    if post is not None:
        yield from _postbuild_findings(post)
    if env.language is None or "python" not in env.kernels or not facts:
        return  # a Dockerfile/Nix environment, or no Python notebook: nothing to compare against
    local = _local_modules(repo, list(notebooks))
    uses, module_errors = _imports(repo, facts, local)
    yield from module_errors
    requirements = env.requirements
    from_postbuild = {i.name for i in post.installed} if post is not None else set()
    declared = {r.name for r in requirements} | set(env.local_packages) | from_postbuild
    target = _requirements_file(env)
    mode = ((repo.manifest.get("environment") or {}) if repo.manifest else {}).get("mode")
    missing: list[tuple[_Use, tuple[str, ...]]] = []
    reported: set[tuple[str, str]] = set()
    firm = {(u.path, u.module) for u in uses if not u.conditional}
    for use in uses:
        if use.module in _STDLIB or use.module in IMAGE_PROVIDED or use.module in local:
            continue
        if use.conditional and (use.path, use.module) in firm:
            continue  # the unconditional import is the one reported
        dists = use.needs()
        if any(d in declared for d in dists) or (use.path, use.module) in reported:
            continue
        if not use.call and any(use.module in installed_modules(d) for d in sorted(declared)):
            continue  # a declared distribution installed here provides it, by its own metadata
        reported.add((use.path, use.module))
        missing.append((use, dists))
    # resolved whenever something is declared: a pin pip cannot install is the commonest build failure (DEP006)
    resolve = ctx.options.get("resolve_dependencies", True) and (missing or requirements or from_postbuild)
    closure = _closure(env, post, ctx) if resolve else None
    if closure is not None and closure.status is ClosureStatus.FAILED:
        conda = (
            " (conda packages looked up on PyPI, as the offline build does)"
            if any(r.source.endswith(":conda") for r in requirements)
            else ""
        )
        yield DEP006.at(
            target,
            f"pip cannot install the declared requirements for Python {closure.python}{conda}: {closure.reason}",
            "fix the pin pip names (a version that has a wheel for this Python, or pins that agree); "
            f"check with: pip install --dry-run --only-binary :all: --python-version {closure.python} "
            f"--target /tmp/x -r {target}",
            detail=closure.to_dict(),
        )
    resolved = closure is not None and closure.status is ClosureStatus.RESOLVED
    wheels = closure.providers() if closure is not None and resolved else {}
    if wheels:  # the resolved wheels' file lists say which distribution provides a module
        kept = []
        for use, dists in missing:
            provide = wheels.get(use.module, ()) if not use.call else ()
            if any(d in declared for d in provide):
                continue
            kept.append((use, tuple(dict.fromkeys((*provide, *dists)))))
        missing = kept
    pulled = closure.via if closure is not None and resolved else requires_closure(declared)
    maybe = []  # why an import nobody declares may be installed all the same
    locked = {i.name for i in post.installed if i.locked} if post is not None else set()  # a closure already
    unknown = sorted(d for d in declared - set(env.local_packages) - locked if d not in REQUIRES)
    if not resolved and unknown:
        why = (
            closure.reason
            if closure is not None
            else "the option resolve_dependencies is off"
            if not ctx.options.get("resolve_dependencies", True)
            else "nothing declared is on PyPI"
        )
        maybe.append(f"{_some(unknown)} may bring it, but dependencies were not resolved ({why})")
    if post is not None and post.unclear:  # an install paperpack cannot follow may bring anything
        lines = ", ".join(str(u.line) for u in post.unclear)
        maybe.append(f"{post.path} line {lines} installs what paperpack cannot follow")
    for use, dists in missing:
        where = f"line {use.line}: " if use.cell is not None else ""  # a file's line is the finding's own
        via = next((pulled[d] for d in dists if d in pulled), None)
        if closure is not None and resolved and any(d in closure.distributions for d in dists) and via is None:
            via = "a declared package"  # requested by name through an alternative spelling
        if via is not None:
            how = " (pip's resolver)" if resolved else ""
            yield _at(
                DEP002,
                use,
                dists,
                f"{where}`{use.module}` is installed only as a dependency of {via}{how} (not declared, not pinned)",
                f"add `{dists[0]}==<version>` to {target}",
            )
        elif (meta := _metapackage(env, use, dists)) is not None and mode == "binder":
            yield _at(
                DEP002,
                use,
                dists,
                f"{where}`{use.module}` is installed only as a dependency of "
                f"conda-forge's {meta!r} (not declared, not pinned)",
                f"add `{dists[0]}=<version>` to {target}",
            )
        elif meta is not None:
            yield _at(
                DEP010,
                use,
                dists,
                f"{where}{use.what()} needs {dists[0]}, which is not declared: "
                f"conda-forge's {meta!r} brings it, but the offline build installs PyPI's {meta!r}, "
                "which does not",
                f"declare `{dists[0]}` in environment.yml too (it then works in both "
                "modes), or set `environment: {mode: binder}` in paperpack.yml if the image is built with "
                "conda",
            )
        elif maybe:
            online = ", or run validate online so pip's resolver can tell" if not resolved and unknown else ""
            yield _at(
                DEP005,
                use,
                dists,
                f"{where}{use.what()} needs {dists[0]}, which is not declared; " + "; ".join(maybe),
                f"declare `{dists[0]}==<version you used>` in {target}{online}",
            )
        elif use.conditional:
            yield _at(
                DEP009,
                use,
                dists,
                f"{where}{use.what()} needs {dists[0]}, which is not declared; "
                "the import is inside a function or an ImportError fallback, so it runs only on some paths",
                f"if the notebooks reach it, add `{dists[0]}==<version you used>` to {target}; if it is "
                "dead code (a Python 2 fallback), remove it",
            )
        else:
            alt = f" (or {', '.join(dists[1:])})" if len(dists) > 1 else ""
            brought = " nor brought by a declared package (pip's resolver)" if resolved and declared else ""
            yield _at(
                DEP001,
                use,
                dists,
                f"{where}{use.what()} needs {dists[0]}{alt}, which is not declared{brought}",
                f"add `{dists[0]}==<version you used>` to {target} (pip show {dists[0]} prints it)",
            )
    imported = {d for use in uses for d in use.needs()}
    pulled_in = _compiled_pins(repo, requirements)
    by_metadata: set[str] | None = None  # read only when a requirement matches no import by name
    for req in requirements:
        if (
            req.name in imported
            or req.name in _NOT_PACKAGES
            or req.name.startswith("r-")
            or req.name in env.local_packages
            or (req.path, req.line) in pulled_in
        ):
            continue
        if by_metadata is None:
            by_metadata = {d for u in uses if not u.call for d in wheels.get(u.module, ())}
        if req.name in by_metadata or installed_modules(req.name) & {u.module for u in uses}:
            continue  # it provides an import under another name (its wheel's files, or its installed metadata)
        yield DEP003.at(
            req.path,
            f"{req.raw.strip() or req.name} is declared but no notebook or local module imports it",
            "remove it, unless it is needed as a plugin or backend",
            line=req.line,
        )


def _metapackage(env: Environment, use: _Use, dists: tuple[str, ...]) -> str | None:
    """The conda metapackage of environment.yml that brings ``use`` in a conda build but not from PyPI, if any."""
    conda = {r.name for r in env.requirements if r.source.endswith(":conda")}
    names = {use.module.lower(), *(d.lower() for d in dists)}
    for meta, extras in METAPACKAGE_EXTRAS.items():
        if meta in conda and names & {e.lower() for e in extras}:
            return meta
    return None


def _at(rule: Rule, use: _Use, dists: tuple[str, ...], message: str, fix: str) -> Finding:
    """A finding at the import: the cell (line in the message) or the file's line."""
    return rule.at(
        use.path,
        message,
        fix,
        cell=use.cell,
        line=use.line if use.cell is None else None,
        detail=_detail(use, dists[0]),
    )


_VIA = re.compile(r"#\s*via\b(.*)$")


def _compiled_pins(repo: Repo, requirements: list[Requirement]) -> set[tuple[str, int | None]]:
    """(file, line) of pins a pip-compile lock file holds because another package needs them.

    pip-compile writes ``# via pandas`` after a pin (on its line, or on the comment lines below it);
    ``# via -r requirements.in`` marks what the author asked for, which DEP003 still checks.
    """
    out: set[tuple[str, int | None]] = set()
    for path in sorted({r.path for r in requirements if r.source == "requirements.txt"}):
        lines = (repo.read_text(path) or "").splitlines()
        if not any(_VIA.search(line) for line in lines):
            continue
        for req in requirements:
            if req.path != path or req.line is None:
                continue
            via: list[str] = []
            block = [lines[req.line - 1]] + list(
                itertools.takewhile(lambda t: t.lstrip().startswith("#"), lines[req.line :])
            )
            for i, text in enumerate(block):
                m = _VIA.search(text)
                if m:  # `# via x` or `# via` followed by `#   x` lines
                    via += (
                        [m.group(1).strip()] if m.group(1).strip() else [t.lstrip("# ").strip() for t in block[i + 1 :]]
                    )
            if via and not all(v.startswith("-r") for v in via):
                out.add((path, req.line))
    return out


def _some(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" or {len(names) - 3} more" if len(names) > 3 else "")


def _closure(env: Environment, post: PostBuild | None, ctx: CheckContext) -> Closure | None:
    """pip's closure of what the environment declares (conda names translated as the offline build does).

    ``None`` when nothing declared is for pip (only conda-only packages, a conda lock file).
    """
    wanted: list[str] = []
    for req in env.requirements:
        if req.source.endswith(":conda"):
            if conda_only(req.name):
                continue  # installed by conda; pip cannot say what it brings
            wanted.append(pip_requirement(req))
        elif req.name not in env.local_packages:
            wanted.append(
                req.raw
                if req.source == "requirements.txt" or req.source.endswith(":pip")
                else f"{req.name}{req.specifier}"
            )
    if post is not None:  # pip installs of postBuild (conda ones carry no pip spec)
        wanted += [i.spec for i in post.installed if i.spec and i.source != "conda"]
    if not any(resolvable(w) for w in wanted):
        return None
    python = env.python_version or DEFAULT_PYTHON
    key = ("closure", python, tuple(sorted(wanted)))
    cached = ctx.cache.get("closure")
    if cached is not None and cached[0] == key:
        return cached[1]
    timeout = float(ctx.options.get("resolve_timeout", 300))
    closure = resolve_closure(
        wanted, python=python, offline=ctx.offline, cache_folder=ctx.options.get("cache_dir"), timeout=timeout
    )
    ctx.cache["closure"] = (key, closure)
    return closure


def _postbuild_findings(post: PostBuild) -> Iterable[Finding]:
    for d in post.downloads:
        name = d.url.rstrip("/").rsplit("/", 1)[-1] or d.url
        yield DEP007.at(
            post.path,
            f"{d.tool} downloads {d.url} while the image is built: unpinned and unchecked",
            f"declare it as data in paperpack.yml (a DOI record, or `url:` with `files: [{{path: "
            f"{name}, sha256: …}}]`), so it is fetched once and checked; then remove this line",
            line=d.line,
            detail={"url": d.url, "tool": d.tool},
        )
    for u in post.unclear:
        yield DEP008.at(
            post.path,
            f"an install paperpack cannot follow: {u.reason}",
            "list the packages in requirements.txt or environment.yml (or in a file inside the "
            "repository that postBuild names), so they can be checked",
            line=u.line,
            detail={"text": u.text[:200]},
        )


def _detail(use: _Use, dist: str) -> dict[str, object]:
    out: dict[str, object] = {"module": use.module, "distribution": dist}
    if use.cell is not None:
        out["cell_line"] = use.line
    return out


def _requirements_file(env: Environment) -> str:
    files = env.files
    for name in ("requirements.txt", "environment.yml", "environment.yaml", "Pipfile", "pyproject.toml", "setup.py"):
        hit = next((f for f in files if posixpath.basename(f) == name), None)
        if hit:
            return hit
    config = env.config_dir
    return posixpath.join(config, "requirements.txt") if config else "requirements.txt"


def _syntax_errors(notebooks: dict[str, Any], facts: dict[str, dict[int, CodeFacts]]) -> Iterable[Finding]:
    for rel, cells in facts.items():
        nb = notebooks[rel]
        tags = {c.index: c.tags for c in nb.cells} if not isinstance(nb, NotebookProblem) else {}
        for index, f in sorted(cells.items()):
            if f.syntax_error is None:
                continue
            line, msg = f.syntax_error
            severity = Severity.INFO if "raises-exception" in tags.get(index, ()) else None
            yield DEP004.at(
                rel,
                f"line {line}: SyntaxError: {msg}",
                "fix the cell so it runs (IPython magics start with % or !)",
                cell=index,
                severity=severity,
                detail={"cell_line": line},
            )


def _local_modules(repo: Repo, notebooks: list[str]) -> dict[str, list[str]]:
    """Top-level names importable from the repository → their ``.py`` files."""
    roots = {""} | {"src"}
    for rel in notebooks:
        d = posixpath.dirname(rel)
        while d:
            roots.add(d)
            d = posixpath.dirname(d)
    out: dict[str, list[str]] = {}
    for f in repo.files:
        if not f.endswith(".py"):
            continue
        for root in roots:
            if root and not f.startswith(root + "/"):
                continue
            rest = f[len(root) + 1 :] if root else f
            top = rest.split("/", 1)[0]
            name = top[:-3] if top.endswith(".py") else top
            if name.isidentifier():
                out.setdefault(name, []).append(f)
    return out


def _imports(
    repo: Repo, facts: dict[str, dict[int, CodeFacts]], local: dict[str, list[str]]
) -> tuple[list[_Use], list[Finding]]:
    uses: list[_Use] = []
    errors: list[Finding] = []
    queue: list[str] = []
    for rel, cells in facts.items():
        for index, f in sorted(cells.items()):
            for imp in f.imports:
                if not imp.optional:
                    uses.append(_Use(imp.module, rel, index, imp.line, imp.conditional))
                    queue += local.get(imp.module, [])
            uses += [_Use(BACKENDS[call][1][0], rel, index, line, call=call) for call, line in f.backend_calls]
    seen: set[str] = set()
    while queue:  # follow the repository's own modules, recursively
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        text = repo.read_text(path)
        if text is None:
            continue
        f = analyse(text, magics=False)
        if f.syntax_error is not None:
            line, msg = f.syntax_error
            errors.append(DEP004.at(path, f"SyntaxError: {msg}", "fix the module so it imports", line=line))
        for imp in f.imports:
            if not imp.optional:
                uses.append(_Use(imp.module, path, None, imp.line, imp.conditional))
                queue += local.get(imp.module, [])
        uses += [_Use(BACKENDS[call][1][0], path, None, line, call=call) for call, line in f.backend_calls]
    return uses, errors
