"""Dependency family (DEP): every module the notebooks import is declared.

Imports come from the code cells of Python notebooks (IPython magics stripped, see
:mod:`paperpack.pysource`) and, recursively, from the repository's own ``.py`` modules
that the notebooks import. An import is satisfied when it is in the standard library,
is a local module, is part of the Jupyter kernel every image has
(:data:`paperpack.importmap.IMAGE_PROVIDED`), sits in ``try: … except ImportError``, or
maps (:func:`paperpack.importmap.distributions_for`) to a declared requirement. Covered
only through another declared package's dependencies is a warning (installed, unpinned).
"""

from __future__ import annotations

import posixpath
import sys
from dataclasses import dataclass
from typing import Any, Iterable

from ..discover import Environment
from ..findings import Finding, Rule, Severity
from ..importmap import IMAGE_PROVIDED, distributions_for, requires_closure
from ..notebooks import NotebookProblem
from ..pysource import CodeFacts, analyse
from ..repo import Repo
from . import CheckContext
from .environment import environment_of
from .notebooks import code_facts, parsed_notebooks

__all__ = ["check"]

_F = "dependencies"
DEP001 = Rule("DEP001", "import-undeclared", Severity.ERROR,
              "A module imported but not declared is not installed in the built image: the notebook stops with "
              "ModuleNotFoundError, the most common reason published notebooks fail to re-run.", family=_F)
DEP002 = Rule("DEP002", "import-transitive", Severity.WARNING,
              "A module installed only because another declared package depends on it is not pinned: its version "
              "can change, or it can disappear when that package changes its dependencies.", family=_F)
DEP003 = Rule("DEP003", "requirement-unused", Severity.INFO,
              "A requirement no notebook or local module imports makes the image larger and slower to build; it "
              "may still be needed as a plugin or backend (openpyxl for read_excel, pyarrow for parquet).",
              family=_F)
DEP004 = Rule("DEP004", "code-syntax-error", Severity.ERROR,
              "Code that does not parse fails when run, and paperpack cannot see what it imports or reads.",
              family=_F)

_STDLIB = frozenset(sys.stdlib_module_names) | {"__main__", "__future__"}
_NOT_PACKAGES = frozenset({"python", "pip", "setuptools", "wheel", "ipykernel", "ipython", "jupyter",
                           "jupyterlab", "notebook", "nbconvert", "jupyter-client", "jupyter-core"})


@dataclass(frozen=True)
class _Use:
    module: str
    path: str  # notebook or .py file
    cell: int | None
    line: int  # line in the cell, or in the file


def check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]:
    env = environment_of(repo, ctx)
    notebooks = parsed_notebooks(repo, ctx)
    facts = code_facts(repo, ctx)
    yield from _syntax_errors(notebooks, facts)
    if env.language is None or "python" not in env.kernels or not facts:
        return  # a Dockerfile/Nix environment, or no Python notebook: nothing to compare against
    local = _local_modules(repo, list(notebooks))
    uses, module_errors = _imports(repo, facts, local)
    yield from module_errors
    requirements = env.requirements
    declared = {r.name for r in requirements} | set(env.local_packages)
    pulled = requires_closure(declared)
    target = _requirements_file(env)
    reported: set[tuple[str, str]] = set()
    for use in uses:
        if use.module in _STDLIB or use.module in IMAGE_PROVIDED or use.module in local:
            continue
        dists = distributions_for(use.module)
        if any(d in declared for d in dists) or (use.path, use.module) in reported:
            continue
        reported.add((use.path, use.module))
        where = f"line {use.line}: " if use.cell is not None else ""  # a file's line is the finding's own
        via = next((pulled[d] for d in dists if d in pulled), None)
        if via is not None:
            yield DEP002.at(use.path, f"{where}`{use.module}` is installed only as a dependency of {via} "
                            f"(not declared, not pinned)", f"add `{dists[0]}==<version>` to {target}",
                            cell=use.cell, line=use.line if use.cell is None else None,
                            detail=_detail(use, dists[0]))
        else:
            alt = f" (or {', '.join(dists[1:])})" if len(dists) > 1 else ""
            yield DEP001.at(use.path, f"{where}`import {use.module}` needs {dists[0]}{alt}, which is not declared",
                            f"add `{dists[0]}==<version you used>` to {target} (pip show {dists[0]} prints it)",
                            cell=use.cell, line=use.line if use.cell is None else None,
                            detail=_detail(use, dists[0]))
    imported = {d for use in uses for d in distributions_for(use.module)}
    for req in requirements:
        if req.name in imported or req.name in _NOT_PACKAGES or req.name.startswith("r-") \
                or req.name in env.local_packages:
            continue
        yield DEP003.at(req.path, f"{req.raw.strip() or req.name} is declared but no notebook or local module "
                        "imports it", "remove it, unless it is needed as a plugin or backend", line=req.line)


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
            yield DEP004.at(rel, f"line {line}: SyntaxError: {msg}",
                            "fix the cell so it runs (IPython magics start with % or !)", cell=index,
                            severity=severity, detail={"cell_line": line})


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
            rest = f[len(root) + 1:] if root else f
            top = rest.split("/", 1)[0]
            name = top[:-3] if top.endswith(".py") else top
            if name.isidentifier():
                out.setdefault(name, []).append(f)
    return out


def _imports(repo: Repo, facts: dict[str, dict[int, CodeFacts]],
             local: dict[str, list[str]]) -> tuple[list[_Use], list[Finding]]:
    uses: list[_Use] = []
    errors: list[Finding] = []
    queue: list[str] = []
    for rel, cells in facts.items():
        for index, f in sorted(cells.items()):
            for imp in f.imports:
                if not imp.optional:
                    uses.append(_Use(imp.module, rel, index, imp.line))
                    queue += local.get(imp.module, [])
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
            errors.append(DEP004.at(path, f"SyntaxError: {msg}",
                                    "fix the module so it imports", line=line))
        for imp in f.imports:
            if not imp.optional:
                uses.append(_Use(imp.module, path, None, imp.line))
                queue += local.get(imp.module, [])
    return uses, errors

