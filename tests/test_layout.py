"""The module layout: stage packages in layers, and no import from a lower layer back up (issue 10).

The layout is the one docs/architecture.md describes ("The layout"); this file guards it.

The layers are read from the source with ``ast`` (every ``import`` and ``from … import``, also inside
functions, relative ones resolved); imports under ``if TYPE_CHECKING:`` are annotations only and are left
out. A module may import its own layer and the layers below; an import upward fails the test unless it is
listed in ``KNOWN_UPWARD`` with the reason and the way to remove it. That list only shrinks: an entry that
no longer happens fails too, so it is deleted when the import goes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "paperpack"

#: bottom first; a module belongs to the longest prefix listed. ``paperpack.report`` alone is the report
#: model validate fills (report/__init__.py); its submodules are the renderings, at the top.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("helpers", ("paperpack._version", "paperpack.errors", "paperpack.util")),
    ("repository", ("paperpack.repository",)),
    ("models", ("paperpack.environment", "paperpack.notebook", "paperpack.doi")),
    ("data and compare", ("paperpack.data", "paperpack.compare")),
    ("validate", ("paperpack.checks", "paperpack.validate", "paperpack.report")),
    ("image", ("paperpack.image",)),
    ("run", ("paperpack.run", "paperpack.timemachine")),
    ("pipeline and reports", ("paperpack.verify", "paperpack.report.", "paperpack.binder")),
    ("applications", ("paperpack.batch", "paperpack.machine")),
    ("entry points", ("paperpack.cli", "paperpack.ci", "paperpack.__main__", "paperpack")),
]

#: the only modules at the top of paperpack/: the package, its entry points and the version
ALLOWED_TOP = {"__init__.py", "__main__.py", "_version.py", "errors.py", "validate.py", "verify.py", "py.typed"}

#: upward imports that exist today: (importer, imported) → why, and how it goes away
KNOWN_UPWARD: dict[tuple[str, str], str] = {
    (
        "paperpack.repository.repo",
        "paperpack.environment.detect",
    ): "Repo.environment detects the environment lazily, once per Repo (issue 10 carries it on Repo); goes "
    "when the pipeline passes the Environment in beside the Repo",
    (
        "paperpack.checks.environment",
        "paperpack.image.baseimage",
    ): "ENV checks read RELEASES (Debian release -> its python3) to say what an offline build can give; goes "
    "when that table moves down into environment/ beside SUPPORTED_PYTHON",
}


def _layer(module: str) -> int:
    best, found = -1, None
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact = prefix in ("paperpack", "paperpack.report")
            if prefix.endswith("."):
                hit = module.startswith(prefix)
            elif exact:
                hit = module == prefix
            else:
                hit = module == prefix or module.startswith(prefix + ".")
            if hit and len(prefix) > best:
                best, found = len(prefix), index
    if found is None:
        raise AssertionError(
            f"{module} is in no layer: add its package to LAYERS in tests/test_layout.py and to docs/architecture.md"
        )
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def _imports(path: Path) -> set[str]:
    """The paperpack modules (or names in them) ``path`` imports, as absolute dotted names."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "paperpack")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "paperpack":
                continue
            for alias in node.names:  # ``from . import x`` may name a submodule: judge that one
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
    return found


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def upward_imports() -> dict[tuple[str, str], str]:
    found = {}
    for path in _modules():
        importer = _module_name(path)
        for imported in _imports(path):
            low, high = _layer(importer), _layer(imported)
            if high > low:
                found[(importer, imported)] = f"{LAYERS[low][0]} imports {LAYERS[high][0]}"
    return found


def test_only_the_allowed_modules_sit_at_the_top_of_the_package() -> None:
    top = {p.name for p in PACKAGE.iterdir() if p.is_file() and p.name != ".gitignore"}
    extra = sorted(top - ALLOWED_TOP)
    assert not extra, (
        f"{', '.join(extra)} at the top of paperpack/: put each module in the package of its stage "
        "(docs/architecture.md, 'The layout'), or generic helpers in paperpack/util/"
    )


def test_every_module_has_a_layer() -> None:
    for path in _modules():
        _layer(_module_name(path))


def test_no_import_from_a_lower_layer_back_up() -> None:
    found = upward_imports()
    new = {pair: why for pair, why in found.items() if pair not in KNOWN_UPWARD}
    assert not new, (
        "imports from a lower layer back up (move the shared code down, or pass the value in):\n"
        + "\n".join(f"  {a} imports {b} ({why})" for (a, b), why in sorted(new.items()))
    )


def test_known_upward_imports_still_happen() -> None:
    gone = sorted(pair for pair in KNOWN_UPWARD if pair not in upward_imports())
    assert not gone, "no longer imported: delete from KNOWN_UPWARD in tests/test_layout.py:\n" + "\n".join(
        f"  {a} -> {b}" for a, b in gone
    )


@pytest.mark.parametrize(
    ("importer", "imported", "upward"),
    [
        ("paperpack.util.cache", "paperpack.report", True),
        ("paperpack.report.html", "paperpack.run", False),
        ("paperpack.run.api", "paperpack.util.atomic", False),
        ("paperpack.repository.repo", "paperpack.image.tags", True),
        ("paperpack.cli.main", "paperpack.verify", False),
    ],
)
def test_the_layer_order(importer: str, imported: str, upward: bool) -> None:
    """The check itself: a helper importing a stage is upward, a rendering importing the run is not."""
    assert (_layer(imported) > _layer(importer)) is upward
