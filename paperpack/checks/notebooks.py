"""Notebook family (NB): notebooks that others can open, trust and re-run.

Reads every notebook once (:mod:`paperpack.notebook.parse`, bounded memory, schema-checked) and
analyses every code cell once (:mod:`paperpack.notebook.pysource`); both results are shared in
``ctx.cache["notebooks"]`` (``{rel: ParsedNotebook | NotebookProblem}``, in run order)
and ``ctx.cache["code"]`` (``{rel: {cell_index: CodeFacts}}``) for the dependency family.

Options (``ctx.options``): ``max_notebook_bytes`` (default 64 MB), ``jobs`` (processes
used to read notebooks; default 1, see :func:`_jobs`), ``syntax_check``
(parse every code cell, so every syntax error is reported; by default only cells that may
import a module or name a file are parsed, see :func:`paperpack.notebook.pysource.analyse`).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable
from typing import Any

from ..environment import Environment
from ..environment.postbuild import read_postbuild
from ..notebook.parse import MAX_NOTEBOOK_BYTES, NotebookProblem, ParsedNotebook, analyse_cells, read_notebooks
from ..notebook.pysource import ABSOLUTE_PATH, SCRATCH_PATH, CodeFacts, aliased_reads
from ..repository.manifest import record_folder
from ..repository.repo import Repo
from . import CheckContext
from .environment import environment_of
from .findings import Finding, Rule, Severity

__all__ = ["check", "parsed_notebooks", "code_facts", "OUTPUT_LIMIT", "NOTEBOOK_OUTPUT_LIMIT"]

#: Python kernel names every image has (ipykernel's kernelspec; ``python`` is what older notebooks wrote)
PYTHON_KERNELS = ("python3", "python")
OUTPUT_LIMIT = 1 << 20  # one output over 1 MB
NOTEBOOK_OUTPUT_LIMIT = 10 << 20  # all outputs of a notebook over 10 MB
_F = "notebooks"
_UPGRADE = (
    "upgrade it with nbformat: python -c \"import nbformat as n; p='{p}'; "
    'n.write(n.read(p, as_version=4), p)" (or open and save it in a current Jupyter)'
)

NB001 = Rule(
    "NB001",
    "notebook-unreadable",
    Severity.ERROR,
    "A file named .ipynb that is not a readable notebook cannot be opened by Jupyter or run by anyone.",
    family=_F,
)
NB002 = Rule(
    "NB002",
    "notebook-schema",
    Severity.ERROR,
    "A notebook that does not follow the nbformat schema of its version may fail to open or to run in "
    "another Jupyter version.",
    family=_F,
)
NB003 = Rule(
    "NB003",
    "notebook-old-format",
    Severity.WARNING,
    "Notebooks older than nbformat 4 are converted on the fly by Jupyter and by nbclient; conversion can "
    "lose metadata, and current tools are not tested against them.",
    family=_F,
)
NB004 = Rule(
    "NB004",
    "notebook-too-large",
    Severity.WARNING,
    "A notebook too large to load quickly is slow to open, to review and to diff, and paperpack does not "
    "check it in full.",
    family=_F,
)
NB005 = Rule(
    "NB005",
    "kernelspec-missing",
    Severity.WARNING,
    "Without metadata.kernelspec, Jupyter and nbclient fall back to a default kernel, which may not be the "
    "language or environment the notebook was written for.",
    family=_F,
)
NB006 = Rule(
    "NB006",
    "kernel-not-served",
    Severity.ERROR,
    "The notebook needs a kernel the built image does not have, so it cannot run there at all.",
    family=_F,
)
NB007 = Rule(
    "NB007",
    "python2-kernel",
    Severity.ERROR,
    "Python 2 reached its end of life in 2020; current images have no Python 2 kernel.",
    family=_F,
)
NB008 = Rule(
    "NB008",
    "execution-out-of-order",
    Severity.WARNING,
    "Cells run out of order leave hidden state: the committed outputs may not come from running the "
    "notebook top to bottom, which is what a re-run does.",
    family=_F,
)
NB009 = Rule(
    "NB009",
    "execution-gaps",
    Severity.WARNING,
    "Gaps in execution counts mean cells were run (or re-run) that are not in the notebook as committed; "
    "its outputs may depend on that hidden state.",
    family=_F,
)
NB010 = Rule(
    "NB010",
    "cell-not-executed",
    Severity.WARNING,
    "A code cell never run in a notebook that shows outputs means the committed results were produced "
    "without it; a top-to-bottom re-run may differ.",
    family=_F,
)
NB011 = Rule(
    "NB011",
    "absolute-path",
    Severity.ERROR,
    "Absolute paths name folders that exist only on the author's machine or cluster; the notebook fails anywhere else.",
    family=_F,
)
NB012 = Rule(
    "NB012",
    "file-missing",
    Severity.ERROR,
    "The notebook reads a file that is neither in the repository, nor declared as data in paperpack.yml, "
    "nor written by an earlier notebook or cell: a re-run stops with FileNotFoundError.",
    family=_F,
)
NB013 = Rule(
    "NB013",
    "checkpoints-committed",
    Severity.WARNING,
    ".ipynb_checkpoints holds Jupyter's autosave copies: stale duplicates that confuse readers and tools.",
    family=_F,
)
NB014 = Rule(
    "NB014",
    "output-too-large",
    Severity.WARNING,
    "A very large output bloats the repository and the notebook, and is usually data that belongs in a file.",
    family=_F,
)
NB015 = Rule(
    "NB015",
    "notebook-outputs-too-large",
    Severity.WARNING,
    "Many megabytes of outputs make the notebook slow to open, review and diff.",
    family=_F,
)
NB016 = Rule(
    "NB016",
    "no-notebooks",
    Severity.ERROR,
    "paperpack verifies a paper by re-running its notebooks; a repository without any has nothing to run.",
    family=_F,
)
NB017 = Rule(
    "NB017",
    "error-output",
    Severity.WARNING,
    "A committed error output means the committed run failed at that cell; readers cannot tell which "
    "results are current.",
    family=_F,
)
NB018 = Rule(
    "NB018",
    "notebook-link-outside",
    Severity.ERROR,
    "A notebook that is a symbolic link leading out of the repository (or nowhere) exists only on the "
    "author's machine; paperpack never follows it, so it is neither checked nor run.",
    family=_F,
)

_KERNEL_FIX = {
    "python": "declare Python packages in requirements.txt (or environment.yml)",
    "r": "add install.R (and runtime.txt `r-<version>-<date>`) or a DESCRIPTION file",
    "julia": "add Project.toml (or REQUIRE) so repo2docker installs Julia and IJulia",
}


def _jobs(ctx: CheckContext) -> int:
    """Processes that read notebooks: 1 unless ``ctx.options["jobs"]`` says otherwise.

    Measured (benchmarks/bench_validate.py, 1,000 notebooks): reading one costs ~1 ms, and
    sending its summary back from a worker (pickle + unpickle) costs about as much, so
    worker processes only pay off for notebooks much heavier to analyse than usual.
    """
    jobs = ctx.options.get("jobs")
    return jobs if isinstance(jobs, int) and jobs > 0 else 1


def _run_order(repo: Repo) -> list[str]:
    """Notebooks in the order they run: the manifest's list first, then the rest by path."""
    found = repo.notebooks
    present = set(found)
    ordered: list[str] = []
    if repo.manifest is not None:
        ordered = [s.path for s in repo.manifest.notebooks if s.path in present]
    seen = set(ordered)
    return ordered + [n for n in found if n not in seen]


def parsed_notebooks(repo: Repo, ctx: CheckContext) -> dict[str, ParsedNotebook | NotebookProblem]:
    """Every notebook of the repository, read and its code analysed once per run (in run order)."""
    cached = ctx.cache.get("notebooks")
    if cached is None:
        rels = _run_order(repo)
        limit = int(ctx.options.get("max_notebook_bytes", MAX_NOTEBOOK_BYTES))
        code = "all" if ctx.options.get("syntax_check") else "facts"
        results = read_notebooks(repo.root, rels, max_bytes=limit, jobs=_jobs(ctx), code=code)
        cached = {r.rel: r for r in results}
        ctx.cache["notebooks"] = cached
    return cached


def code_facts(repo: Repo, ctx: CheckContext) -> dict[str, dict[int, CodeFacts]]:
    """:class:`CodeFacts` of the code cells of every Python notebook: ``{rel: {cell index: facts}}``."""
    cached = ctx.cache.get("code")
    if cached is None:
        cached = {}
        for rel, nb in parsed_notebooks(repo, ctx).items():
            if isinstance(nb, ParsedNotebook) and nb.language in (None, "python"):
                if nb.code is None:  # read elsewhere without analysis
                    analyse_cells(nb, syntax=bool(ctx.options.get("syntax_check")))
                cached[rel] = nb.code
        ctx.cache["code"] = cached
    return cached


def check(repo: Repo, ctx: CheckContext) -> Iterable[Finding]:
    notebooks = parsed_notebooks(repo, ctx)
    if not notebooks:
        yield NB016.at(
            None, "no notebooks (*.ipynb) in the repository", "commit the notebooks that produce the paper's results"
        )
    yield from _checkpoints(repo)
    yield from _links_outside(repo)
    env = environment_of(repo, ctx)
    served = _python_kernels(repo, env)
    chosen = {s.path: s.kernel for s in repo.manifest.notebooks if s.kernel} if repo.manifest is not None else {}
    for rel, nb in notebooks.items():
        if isinstance(nb, NotebookProblem):
            rule = NB004 if nb.kind == "too-large" else NB001
            yield rule.at(rel, f"{rel} {nb.message}", nb.fix, line=nb.line)
            continue
        yield from _format(nb)
        yield from _kernel(nb, env, served, chosen.get(rel))
        yield from _execution(nb)
        yield from _outputs(nb)
    yield from _paths(repo, ctx, notebooks)


def _checkpoints(repo: Repo) -> Iterable[Finding]:
    folders = sorted(
        {f.split(".ipynb_checkpoints/")[0] + ".ipynb_checkpoints" for f in repo.files if ".ipynb_checkpoints/" in f}
    )
    for folder in folders:
        yield NB013.at(
            folder,
            f"{folder}/ (Jupyter autosave copies) is committed",
            f"git rm -r --cached '{folder}' and add .ipynb_checkpoints/ to .gitignore",
        )


def _links_outside(repo: Repo) -> Iterable[Finding]:
    """NB018 for every ``*.ipynb`` symbolic link whose target is not a file inside the repository.

    The target is resolved as a path only: it is never opened, and neither its name nor its
    content is written into the finding.
    """
    root = repo.root.resolve()
    for rel in repo.symlinks:
        if not rel.endswith(".ipynb"):
            continue
        try:
            target = (repo.root / rel).resolve()
            inside = target.is_relative_to(root) and target.is_file()
        except (OSError, RuntimeError):  # a loop of links
            inside = False
        if not inside:
            yield NB018.at(
                rel,
                f"{rel} is a symbolic link that leads outside the repository (or nowhere); it is not checked or run",
                f"replace the link with the notebook itself (git rm '{rel}', copy the notebook in, "
                "git add it), or remove it",
            )


def _format(nb: ParsedNotebook) -> Iterable[Finding]:
    if nb.nbformat < 4:
        yield NB003.at(
            nb.rel, f"{nb.rel} is nbformat {nb.version}; current notebooks are nbformat 4", _UPGRADE.format(p=nb.rel)
        )
    for issue in nb.schema_errors:
        yield NB002.at(
            nb.rel,
            f"not valid nbformat {nb.schema_version or nb.version}: {issue.message}",
            "open and save the notebook in Jupyter, or fix the field by hand "
            "(`jupyter nbconvert --to notebook --inplace` rewrites it); "
            'check with: python -c "import nbformat; nbformat.validate(nbformat.read(PATH, 4))"',
            cell=issue.cell,
            detail={"where": issue.where, "version": nb.version},
        )


def _python_kernels(repo: Repo, env: Environment) -> set[str]:
    """Python kernel names the image has: ipykernel's own, and those postBuild installs."""
    served = set(PYTHON_KERNELS)
    if env.path("postBuild") in env.files:
        served |= set(read_postbuild(repo.root, env.path("postBuild")).kernels)
    return served


def _kernel(nb: ParsedNotebook, env: Environment, served: set[str], chosen: str | None) -> Iterable[Finding]:
    ks = nb.kernelspec
    name = str(ks.get("name", "")) if ks else ""
    language = nb.language
    li = nb.language_info or {}
    if (ks is None or not name) and nb.nbformat >= 4:  # older formats had no kernelspec: NB003 says upgrade
        yield NB005.at(
            nb.rel,
            "no kernelspec in the notebook metadata" + (f" (language_info says {language})" if language else ""),
            "open the notebook in Jupyter, choose the kernel (Kernel → Change kernel) and save",
        )
    version = str(li.get("version", ""))
    mode = li.get("codemirror_mode")
    mode_version = mode.get("version") if isinstance(mode, dict) else None
    if name == "python2" or (language == "python" and (version.startswith("2.") or mode_version == 2)):
        yield NB007.at(
            nb.rel,
            f"written for Python 2 (kernel {name or '?'}, version {version or mode_version})",
            "port the notebook to Python 3 (2to3 helps), run it, and save it with a Python 3 kernel",
        )
        return
    if not language or env.language is None:
        return  # unknown kernel language, or a Dockerfile/Nix environment paperpack cannot see into
    if language not in env.kernels:
        have = ", ".join(sorted(env.kernels)) or "none"
        yield NB006.at(
            nb.rel,
            f"needs a kernel for {language} ({name or 'kernelspec without name'}), but the "
            f"environment ({env.buildpack}) serves: {have}",
            _KERNEL_FIX.get(language, f"install a {language} kernel in postBuild, or use a Dockerfile"),
        )
    elif language == "python" and (chosen or name) and (chosen or name) not in served:
        which = chosen or name
        source = "paperpack.yml's kernel:" if chosen else "the kernelspec name"
        yield NB006.at(
            nb.rel,
            f"{source} {which!r} is not a kernel the image has (it has "
            f"{', '.join(sorted(served))}): the run stops with 'No such kernel'",
            f"add `kernel: python3` to {nb.rel}'s entry under notebooks: in paperpack.yml, or choose the "
            "Python 3 kernel in Jupyter (Kernel → Change kernel) and save",
            detail={"kernel": which},
        )


def _execution(nb: ParsedNotebook) -> Iterable[Finding]:
    code = [c for c in nb.code_cells if c.source.strip()]
    ran = [c for c in code if c.execution_count is not None]
    if not ran:
        return
    for prev, cur in zip(ran, ran[1:]):
        if cur.execution_count <= prev.execution_count:  # type: ignore[operator]
            yield NB008.at(
                nb.rel,
                f"cell {cur.index} ran as [{cur.execution_count}] after cell {prev.index} "
                f"[{prev.execution_count}]: cells were run out of order (hidden state)",
                "restart the kernel and run all cells (Kernel → Restart & Run All), then save",
                cell=cur.index,
            )
            break
    else:
        first = ran[0]
        jumps = [(p, c) for p, c in zip(ran, ran[1:]) if c.execution_count - p.execution_count > 1]  # type: ignore[operator]
        if first.execution_count != 1 or jumps:
            where = (
                f"the first cell ran as [{first.execution_count}]"
                if first.execution_count != 1
                else f"counts jump from [{jumps[0][0].execution_count}] to [{jumps[0][1].execution_count}]"
            )
            at = first if first.execution_count != 1 else jumps[0][1]
            yield NB009.at(
                nb.rel,
                f"{where}: cells were run that are not in the notebook, or re-run (hidden state)",
                "restart the kernel and run all cells, then save",
                cell=at.index,
            )
    never = [c.index for c in code if c.execution_count is None]
    if never:
        listed = ", ".join(map(str, never[:10])) + (" …" if len(never) > 10 else "")
        yield NB010.at(
            nb.rel,
            f"{len(never)} code cell(s) never executed ({listed}) while others show outputs",
            "restart the kernel and run all cells, then save (or delete the unused cells)",
            cell=never[0],
            detail={"cells": never},
        )


def _outputs(nb: ParsedNotebook) -> Iterable[Finding]:
    total = 0
    for cell in nb.cells:
        for out in cell.outputs:
            total += out.size
            if out.size > OUTPUT_LIMIT:
                yield NB014.at(
                    nb.rel,
                    f"a {out.output_type} output of {out.size / 1048576:.1f} MB ({', '.join(out.mimetypes) or 'text'})",
                    "save large results to a file (and figures at a sensible resolution), or clear that output",
                    cell=cell.index,
                )
            if out.output_type == "error":
                yield NB017.at(
                    nb.rel,
                    f"the committed output is an error: {out.ename}: {(out.evalue or '')[:120]}",
                    "fix the cell, restart the kernel and run all cells, then save; or mark it "
                    "`raises-exception` (cell tag) if the error is intended",
                    cell=cell.index,
                )
    if total > NOTEBOOK_OUTPUT_LIMIT:
        yield NB015.at(
            nb.rel,
            f"outputs total {total / 1048576:.1f} MB",
            "clear outputs that are not results, and save large results to files",
        )


# -- paths ---------------------------------------------------------------------------------------------------

_QUOTED = re.compile(r"([\"'])([^\"'\n]{2,400})\1")


def _foreign_absolute(nb: ParsedNotebook) -> Iterable[tuple[int, int, str]]:
    """(cell, line, path) of absolute-path string literals in R, Julia … code (not parsed: quoted text)."""
    for cell in nb.code_cells:
        for m in _QUOTED.finditer(cell.source):
            value = m.group(2)
            if ABSOLUTE_PATH.match(value) or SCRATCH_PATH.match(value):
                line_start = cell.source.rfind("\n", 0, m.start()) + 1
                if not cell.source[line_start : m.start()].lstrip().startswith("#"):  # R/Julia comments
                    yield cell.index, cell.source.count("\n", 0, m.start()) + 1, value


def _candidates(nb_dir: str, path: str) -> list[str]:
    p = path.replace("\\", "/")
    out = [posixpath.normpath(posixpath.join(nb_dir, p))] if nb_dir else []
    out.append(posixpath.normpath(p))
    return [c for c in out if not c.startswith("../") and c != ".."]


def _paths(repo: Repo, ctx: CheckContext, notebooks: dict[str, Any]) -> Iterable[Finding]:
    facts = code_facts(repo, ctx)
    files = set(repo.files) | set(repo.symlinks)
    folders: set[str] = set()
    for name in files:
        d = posixpath.dirname(name)
        while d and d not in folders:
            folders.add(d)
            d = posixpath.dirname(d)
    datasets = repo.manifest.datasets if repo.manifest else []
    declared = [
        str(f.get("path", "")).strip("/") for ds in datasets for f in (ds.get("files") or []) if isinstance(f, dict)
    ]
    declared += [record_folder(ds) for ds in datasets if ds.get("doi") and not ds.get("files")]
    writes: dict[str, list[tuple[int, int, str]]] = {}
    order = {rel: i for i, rel in enumerate(notebooks)}
    for rel, cells in facts.items():
        nb_dir = posixpath.dirname(rel)
        for index, f in cells.items():
            for use in f.writes:
                for cand in _candidates(nb_dir, use.path):
                    writes.setdefault(cand, []).append((order[rel], index, rel))
    absolute: dict[str, list[tuple[int, int, str]]] = {
        rel: [(index, use.line, use.path) for index, f in sorted(cells.items()) for use in f.absolute]
        for rel, cells in facts.items()
    }
    for rel, nb in notebooks.items():
        if isinstance(nb, ParsedNotebook) and rel not in facts:
            absolute[rel] = list(_foreign_absolute(nb))
    for rel, found in absolute.items():
        for index, line, path in found:
            scratch = bool(SCRATCH_PATH.match(path))
            yield NB011.at(
                rel,
                f"line {line}: absolute path {path!r}" + (" (machine-local temporary folder)" if scratch else ""),
                "use a path relative to the notebook (or the repository), e.g. "
                f"{posixpath.basename(path.rstrip('/')) or 'data'!r}, and commit the file or "
                "declare it as data in paperpack.yml",
                cell=index,
                severity=Severity.WARNING if scratch else None,
                detail={"cell_line": line, "path": path},
            )
    for rel, cells in facts.items():
        nb_dir = posixpath.dirname(rel)
        aliased = aliased_reads(cells)
        for index, f in sorted(cells.items()):
            for use in f.reads + aliased.get(index, []):
                if use.path.startswith(("/", "~")) or ":" in use.path[:3] or not use.path.strip():
                    continue
                cands = _candidates(nb_dir, use.path)
                if any(_exists(c, files, folders, declared) for c in cands):
                    continue
                done = [w for c in cands for w in writes.get(c, ())]
                if any((o, i) <= (order[rel], index) for o, i, _ in done):
                    continue
                later = sorted({w[2] for w in done})
                how = f"read by {use.call}()" if use.call else "path"
                if later:
                    message = f"line {use.line}: {use.path!r} ({how}) is written only later, by {', '.join(later)}"
                    fix = "list the notebooks in paperpack.yml in the order they must run (or use depends_on)"
                else:
                    message = f"line {use.line}: {use.path!r} ({how}) is not in the repository"
                    fix = (
                        f"commit {cands[0]!r}, or declare it under data: in paperpack.yml "
                        "(DOI or URL, with its sha256), or write it in an earlier cell"
                    )
                yield NB012.at(rel, message, fix, cell=index, detail={"cell_line": use.line, "path": use.path})


def _exists(cand: str, files: set[str], folders: set[str], declared: list[str]) -> bool:
    if cand in files or cand in folders:
        return True
    if any(ch in cand for ch in "*?["):
        return any(fnmatch.fnmatch(f, cand) for f in files)
    # "." is a whole record placed at the root: any file may come from it
    return any(d == "." or cand == d or cand.startswith(d + "/") or d.startswith(cand + "/") for d in declared if d)
