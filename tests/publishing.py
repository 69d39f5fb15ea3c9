"""A verified paper for the provenance writers' tests: real files on disk and the typed result.

``make_publication(tmp)`` writes a repository (paperpack.yml with title, DOI, authors with ORCID,
license and one data file with its DOI and sha256; three notebooks with committed outputs) and
an output folder with the executed copies, then builds the :class:`Publication` the writers
receive: one notebook *same*, one *differs* (a changed image and changed text), one *failed*
(a traceback with ANSI colours). ``hostile`` outputs (a script, an onerror, a javascript: link,
JavaScript) are planted in the outputs of the *differs* notebook, committed and executed.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from paperpack.report.paper import paper_verdict
from paperpack.report.publish import Publication
from paperpack.repository.repo import Repo
from paperpack.run.results import NotebookRun, RunResult
from paperpack.verify import Result, VerifyOptions

ORCID = "0000-0002-1825-0097"
DOI = "10.1234/paper.5678"
DATA_DOI = "10.5281/zenodo.1234567"
#: what a planted script, onerror handler or javascript: link would set in the page
FLAG = "__paperpack_pwned"
HOSTILE_HTML = (
    f"<script>window.{FLAG}='script'</script>"
    f"<img src=x onerror=\"window.{FLAG}='onerror'\">"
    f"<a id=planted href=\"javascript:window.{FLAG}='link'\">planted link</a>"
)
HOSTILE_JS = f"window.{FLAG}='javascript-output'"


def png(colour: tuple[int, int, int], square: tuple[int, int, int, int] | None = None) -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (120, 80), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 60, 60), fill=colour)
    if square:
        draw.rectangle(square, fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def notebook(cells: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {},
                "execution_count": i + 1,
                "source": src,
                "outputs": outputs,
            }
            for i, (src, outputs) in enumerate(cells)
        ],
    }


def stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def display(data: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def hostile_outputs() -> list[dict[str, Any]]:
    return [
        display({"text/html": HOSTILE_HTML}),
        display({"application/javascript": HOSTILE_JS}),
        display({"image/svg+xml": f"<svg xmlns='http://www.w3.org/2000/svg' onload=\"window.{FLAG}='svg'\"/>"}),
    ]


def write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")


def make_publication(tmp: Path, *, extra_differs_output: dict[str, Any] | None = None) -> Publication:
    root, out = tmp / "paper", tmp / "paper" / "paperpack-out"
    (root / "data").mkdir(parents=True)
    (root / "data" / "obs.csv").write_text("t,x\n0,1\n1,2\n", encoding="utf-8")
    import hashlib

    data_sha = hashlib.sha256((root / "data" / "obs.csv").read_bytes()).hexdigest()
    (root / "paperpack.yml").write_text(
        "version: 1\ntitle: A <b>planted</b> & title\n"
        f"authors:\n  - name: Josiah Carberry\n    orcid: {ORCID}\n"
        f'paper:\n  doi: "{DOI}"\nlicense: MIT\n'
        "notebooks:\n  - path: same.ipynb\n  - path: differs.ipynb\n  - path: failed.ipynb\n"
        f"data:\n  - doi: {DATA_DOI}\n    files:\n      - path: data/obs.csv\n        sha256: {data_sha}\n",
        encoding="utf-8",
    )
    (root / "requirements.txt").write_text("numpy==1.26.4\n", encoding="utf-8")

    same = notebook([("print(1)", [stream("1\n")])])
    write_json(root / "same.ipynb", same)
    write_json(out / "executed" / "same.ipynb", same)

    committed_differs = notebook(
        [
            ("print(x)", [stream("x = 1.0\nunchanged\n")]),
            ("plot()", [display({"image/png": png((200, 0, 0)), "text/plain": "<Figure>"})]),
            ("show()", hostile_outputs()),
        ]
    )
    executed_outputs = hostile_outputs() + [extra_differs_output or stream("a new line\n")]
    executed_differs = notebook(
        [
            ("print(x)", [stream("x = 2.5\nunchanged\n")]),
            ("plot()", [display({"image/png": png((200, 0, 0), (70, 20, 110, 70)), "text/plain": "<Figure>"})]),
            ("show()", executed_outputs),
        ]
    )
    write_json(root / "differs.ipynb", committed_differs)
    write_json(out / "executed" / "differs.ipynb", executed_differs)

    failed = notebook([("1/0", [])])
    write_json(root / "failed.ipynb", failed)

    runs = [
        NotebookRun(
            path="same.ipynb",
            status="ok",
            verdict="same",
            message="1 cell with the same results",
            duration=1.25,
            executed="executed/same.ipynb",
            started="2026-11-30T20:00:00.000+00:00",
            ended="2026-11-30T20:00:01.250+00:00",
            comparison={"verdict": "same", "differences": [], "tolerances": {"rtol": 1e-5, "atol": 1e-8}},
        ),
        NotebookRun(
            path="differs.ipynb",
            status="ok",
            verdict="differs",
            message="3 of 3 cells differ",
            duration=2.5,
            executed="executed/differs.ipynb",
            started="2026-11-30T20:00:00.000+00:00",
            ended="2026-11-30T20:00:02.500+00:00",
            comparison={
                "verdict": "differs",
                "tolerances": {"rtol": 1e-5, "atol": 1e-8},
                "differences": [
                    {"cell": 0, "reason": "text differs", "diff": "- x = 1.0\n+ x = 2.5"},
                    {"cell": 1, "reason": "the image looks different (similarity 0.61)", "diff": ""},
                    {"cell": 2, "reason": "the outputs are not of the same kinds", "diff": ""},
                ],
            },
        ),
        NotebookRun(
            path="failed.ipynb",
            status="error",
            verdict="failed",
            message="code cell 1 (In [1]): ZeroDivisionError: division by zero",
            duration=0.5,
            started="2026-11-30T20:00:03.000+00:00",
            ended="2026-11-30T20:00:03.500+00:00",
            error={
                "ename": "ZeroDivisionError",
                "evalue": "division by zero",
                "where": "code cell 1 (In [1])",
                "traceback": [
                    "\x1b[0;31mZeroDivisionError\x1b[0m Traceback (most recent call last)",
                    "\x1b[0;32m----> 1\x1b[0m 1/0",
                    "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero",
                ],
            },
        ),
    ]
    run = RunResult(
        engine="docker",
        isolation="container: no network, non-root, read-only sources",
        image=None,
        out_dir=out,
        jobs=2,
        limits={"memory": "4g", "cpus": 2, "pids": 512, "timeout": 300},
        notebooks=runs,
    )
    (out / ".paperpack-output").write_text("", encoding="utf-8")
    repo = Repo.open(root)
    result = Result(root=root, options=VerifyOptions(cache_dir=tmp / "cache"), run=run)
    report = {
        "findings": [
            {
                "rule": "NB003",
                "severity": "warning",
                "path": "differs.ipynb",
                "line": None,
                "cell": 2,
                "message": "cell 2 shows <script>alert(1)</script> as output",
                "fix": "clear it",
            },
            {
                "rule": "ENV001",
                "severity": "error",
                "path": "requirements.txt",
                "line": 1,
                "cell": None,
                "message": "numpy is pinned to a version with no wheel",
                "fix": "pin numpy==1.26.4",
            },
        ]
    }
    return Publication(repo=repo, result=result, verdict=paper_verdict(run), out_dir=out, commit=None, report=report)
