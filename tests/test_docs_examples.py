"""Every ```python example in the docs compiles, imports what it uses, and names only what exists.

Running them would need a paper repository and minutes; what goes wrong in practice is a
missing import or a renamed function, and that is what this checks: every name an example
reads is bound in it (import, assignment, definition) or a builtin, and, in a fresh process,
its imports work and every dotted name it reads from them (``paperpack.VerifyOptions``) exists.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import subprocess
import sys

import pytest

from conftest import ROOT

DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _examples() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            out.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return out


EXAMPLES = _examples()


def _bound(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def test_the_docs_have_python_examples() -> None:
    assert len(EXAMPLES) >= 3, EXAMPLES


@pytest.mark.parametrize("where, code", EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_python_example_names_only_what_it_binds(where: str, code: str) -> None:
    tree = ast.parse(code, filename=where)
    free = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unbound = sorted(free - _bound(tree) - set(dir(builtins)))
    assert unbound == [], f"{where}: the example uses {unbound} without importing or defining them"


@pytest.mark.parametrize("where, code", EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_python_example_imports_work_and_its_names_exist(where: str, code: str) -> None:
    tree = ast.parse(code, filename=where)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    imported = {(a.asname or a.name).split(".")[0] for n in imports for a in n.names}
    dotted = sorted(
        {
            d
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute)
            and isinstance(n.ctx, ast.Load)
            and (d := _dotted(n))
            and d.split(".")[0] in imported
        }
    )
    probe = (
        "\n".join(ast.unparse(n) for n in imports)
        + f"""
import json, operator
missing = []
for name in {dotted!r}:
    head, *rest = name.split(".")
    try:
        operator.attrgetter(".".join(rest))(globals()[head]) if rest else globals()[head]
    except AttributeError:
        missing.append(name)
print(json.dumps(missing))
"""
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, f"{where}: its imports fail:\n{done.stderr}"
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [], f"{where}: these names do not exist"


def test_a_missing_import_is_caught() -> None:
    """The check itself: an example that uses Path without importing it is reported."""
    tree = ast.parse("result = run(Path('x'))\nfrom paperpack.run import run_notebooks as run\n")
    free = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert free - _bound(tree) - set(dir(builtins)) == {"Path"}
