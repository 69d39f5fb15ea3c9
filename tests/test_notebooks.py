"""paperpack.notebook.parse (bounded, schema-checked reading) and paperpack.notebook.pysource (cell analysis)."""

from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path

import nbformat
import pytest

from paperpack.notebook import schema as nbschema
from paperpack.notebook.parse import NotebookProblem, ParsedNotebook, parse_document, read_notebook, read_notebooks
from paperpack.notebook.pysource import NO_FACTS, analyse, may_have_facts, strip_magics

GOOD = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    "cells": [
        {"cell_type": "markdown", "id": "a1", "metadata": {}, "source": ["# T\n", "text"]},
        {
            "cell_type": "code",
            "id": "b2",
            "execution_count": 1,
            "metadata": {"tags": ["parameters"]},
            "source": "import numpy as np\nx = 1",
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]},
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": "iVBORw0K", "text/plain": ["<Figure>"]},
                },
                {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["tb1", "tb2"]},
            ],
        },
    ],
}


def _read(tmp_path: Path, content: bytes | str | dict, **kw: object) -> ParsedNotebook | NotebookProblem:  # type: ignore[type-arg]
    path = tmp_path / "x.ipynb"
    if isinstance(content, dict):
        content = json.dumps(content)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return read_notebook(path, "x.ipynb", **kw)  # type: ignore[arg-type]


def test_reads_cells_outputs_and_metadata(tmp_path: Path) -> None:
    nb = _read(tmp_path, GOOD)
    assert isinstance(nb, ParsedNotebook)
    assert (nb.version, nb.schema_version, nb.language, nb.schema_errors) == ("4.5", "4.5", "python", [])
    md, code = nb.cells
    assert (md.index, md.cell_type, md.source) == (0, "markdown", "# T\ntext")
    assert (code.execution_count, code.tags, code.source) == (1, ("parameters",), "import numpy as np\nx = 1")
    assert [(o.output_type, o.size) for o in code.outputs] == [("stream", 4), ("display_data", 16), ("error", 6)]
    assert code.outputs[1].mimetypes == ("image/png", "text/plain")
    assert (code.outputs[2].ename, code.outputs[2].evalue) == ("ValueError", "bad")
    assert nb.kernelspec == GOOD["metadata"]["kernelspec"] and nb.code is None


@pytest.mark.parametrize(
    "content,kind,line",
    [
        (b"", "empty", None),
        (b"  \n\t", "empty", None),
        (json.dumps(GOOD, indent=1)[:120], "truncated", None),
        ("{\n<<<<<<< HEAD\n}", "not-json", 2),
        (b"\xef\xbb\xbf" + json.dumps(GOOD).encode(), "not-json", 1),
        ('{"a": "caf\u00e9"}'.encode("latin-1"), "not-utf8", 1),
        (random.Random(3).randbytes(4096), "not-utf8", None),
        ("[1, 2]", "not-a-notebook", None),
        ('{"cells": []}', "not-a-notebook", None),
        ('{"nbformat": 5, "cells": []}', "unknown-format", None),
        ('{"nbformat": "4"}', "unknown-format", None),
    ],
)
def test_bad_input_is_a_problem_not_an_exception(
    tmp_path: Path, content: bytes | str, kind: str, line: int | None
) -> None:
    got = _read(tmp_path, content)
    assert isinstance(got, NotebookProblem), got
    assert got.kind == kind, got
    if line is not None:
        assert got.line == line
    assert got.message and got.fix and "\n" not in got.message and len(got.message) < 200


def test_too_large_is_not_read(tmp_path: Path) -> None:
    got = _read(tmp_path, GOOD, max_bytes=100)
    assert isinstance(got, NotebookProblem) and got.kind == "too-large" and "not loaded" in got.message


def test_unreadable_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.ipynb"
    folder.mkdir()
    got = read_notebook(folder, "dir.ipynb")
    assert isinstance(got, NotebookProblem) and got.kind == "unreadable"


def test_v3_is_read_and_flagged_old(tmp_path: Path) -> None:
    v3 = nbformat.v3.new_notebook(
        worksheets=[
            nbformat.v3.new_worksheet(
                cells=[
                    nbformat.v3.new_text_cell("markdown", source="hi"),
                    nbformat.v3.new_code_cell(input="import os", prompt_number=4),
                ]
            )
        ]
    )
    got = _read(tmp_path, nbformat.v3.writes_json(v3))
    assert isinstance(got, ParsedNotebook) and got.nbformat == 3 and got.schema_version == "3"
    assert [(c.cell_type, c.source, c.execution_count) for c in got.cells] == [
        ("markdown", "hi", None),
        ("code", "import os", 4),
    ]
    assert got.schema_errors == []


def _variants() -> list[dict]:  # type: ignore[type-arg]
    """Valid and invalid notebooks, to compare with nbformat's own verdict."""
    out = [copy.deepcopy(GOOD)]
    for minor in (0, 1, 2, 3, 4):
        nb = copy.deepcopy(GOOD)
        nb["nbformat_minor"] = minor
        out.append(nb)  # ids are not allowed before 4.5
        for cell in nb["cells"]:
            cell.pop("id")
        out.append(copy.deepcopy(nb))
    edits = [
        lambda nb: nb["cells"][1].__setitem__("execution_count", "1"),
        lambda nb: nb["cells"][1]["outputs"][0].__setitem__("name", 3),
        lambda nb: nb["cells"][1]["outputs"][0].pop("text"),
        lambda nb: nb["cells"][1]["outputs"][1].__setitem__("output_type", "figure"),
        lambda nb: nb["cells"][0].__setitem__("cell_type", "heading"),
        lambda nb: nb["cells"][0].__setitem__("outputs", []),
        lambda nb: nb.pop("metadata"),
        lambda nb: nb["cells"][1].__setitem__("id", "has space"),
        lambda nb: nb["metadata"].__setitem__("kernelspec", {"name": "python3"}),
        lambda nb: nb["cells"][1]["outputs"][1]["data"].__setitem__("image/png", 5),
    ]
    for edit in edits:
        nb = copy.deepcopy(GOOD)
        edit(nb)
        out.append(nb)
    return out


@pytest.mark.parametrize("use_rust", [True, False])
def test_schema_verdict_matches_nbformat(use_rust: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not use_rust:  # the fastjsonschema path, used when jsonschema-rs is not installed
        monkeypatch.setitem(sys.modules, "jsonschema_rs", None)
        monkeypatch.setattr(nbschema, "_fast", {})
    for doc in _variants():
        try:
            nbformat.validate(copy.deepcopy(doc), version=4, version_minor=doc.get("nbformat_minor", 0))
            valid = True
        except nbformat.ValidationError:
            valid = False
        got = parse_document(copy.deepcopy(doc), "x.ipynb")
        assert isinstance(got, ParsedNotebook)
        assert (got.schema_errors == []) == valid, (doc, got.schema_errors)
        for issue in got.schema_errors:
            assert len(issue.message) < 200 and "\n" not in issue.message
            if issue.where.startswith("cells["):
                assert issue.cell == int(issue.where[6:].split("]")[0])


def test_schema_messages_are_short_and_point_at_the_cell() -> None:
    nb = copy.deepcopy(GOOD)
    nb["cells"][1]["outputs"][0]["name"] = 3
    nb["cells"][0]["cell_type"] = "heading"
    got = parse_document(nb, "x.ipynb")
    assert isinstance(got, ParsedNotebook)
    messages = [(i.cell, i.message) for i in got.schema_errors]
    assert (0, "cells[0]: unknown or missing cell_type 'heading'") in messages
    assert (1, "cells[1].outputs[0].name: expected string, got int 3") in messages


def test_read_notebooks_keeps_order_across_processes(tmp_path: Path) -> None:
    rels = []
    for i in range(12):
        nb = copy.deepcopy(GOOD)
        nb["cells"][1]["execution_count"] = i + 1
        (tmp_path / f"n{i}.ipynb").write_text(json.dumps(nb))
        rels.append(f"n{i}.ipynb")
    (tmp_path / "bad.ipynb").write_text("{")
    rels.insert(5, "bad.ipynb")
    one = read_notebooks(tmp_path, rels, jobs=1, code="facts")
    two = read_notebooks(tmp_path, rels, jobs=2, code="facts")
    assert [r.rel for r in one] == rels == [r.rel for r in two]
    assert one == two
    assert one[0].code[1].imports[0].module == "numpy"  # type: ignore[union-attr,index]


# -- pysource ----------------------------------------------------------------------------------------------


def test_strip_magics_keeps_lines_and_blocks() -> None:
    src = "%matplotlib inline\nimport os\nif True:\n    !ls\n    x = !pwd\nos?\n%time y = 1"
    python, skipped = strip_magics(src)
    assert skipped == "" and python.count("\n") == src.count("\n")
    compile(python, "<cell>", "exec")
    assert strip_magics("%%bash\nimport x") == ("", "%%bash")
    assert strip_magics("%%time\nimport x")[0] == "\nimport x"


def test_analyse_finds_imports_paths_and_errors() -> None:
    f = analyse(
        "import a.b, c\nfrom d.e import f\nfrom . import g\ntry:\n    import h\nexcept ImportError:\n"
        "    h = None\ndf = read_csv('data/x.csv')\nplt.savefig('out/f.png')\nopen('log.txt', 'w')\n"
        "P = '/home/me/x'\nu = 'https://h/x.csv'\nnp.load(Path('d') / 'y.npy')"
    )
    assert [(i.module, i.line, i.optional) for i in f.imports] == [
        ("a", 1, False),
        ("c", 1, False),
        ("d", 2, False),
        ("h", 5, True),
    ]
    assert f.relative_imports == [("", 3)]
    assert [(u.path, u.line, u.call) for u in f.reads] == [("data/x.csv", 8, "read_csv"), ("d/y.npy", 13, "load")]
    assert [u.path for u in f.writes] == ["out/f.png", "log.txt"]
    assert [u.path for u in f.absolute] == ["/home/me/x"]
    assert analyse("import x\nprint(").syntax_error == (2, "'(' was never closed")
    assert analyse("\x00").syntax_error is not None


CELLS = [
    "x = 1",
    "print('mean', x.mean())",
    "plt.plot(x, y / 2)",
    "import os",
    "open('README')",
    "df = pd.read_csv( 'a')",
    "D = 'a'\nread_csv(D)",
    "x = '/home/me'",
    "y = 'C:\\\\data'",
    "print('a/b')",
    "s = '''\n/home/x'''",
    "Path('data') / 'x'",
    "f(f'{a}.csv')",
    "t = r'\\\\server\\x'",
    "# open('x')",
    "print ( 'hi' )",
    "x = {'a': 1}\ndf.loc['a']",
    "np.save('out', x)",
    "a = b",
    'q = "it\'s /tmp/x"',
]


@pytest.mark.parametrize("cell", CELLS)
def test_the_gate_never_hides_a_fact(cell: str) -> None:
    full = analyse(cell)
    has = bool(full.imports or full.reads or full.writes or full.absolute or full.relative_imports)
    if has:
        assert may_have_facts(cell), cell
    gated = analyse(cell, syntax=False)
    if not may_have_facts(cell):
        assert gated is NO_FACTS
    else:
        assert gated == full
