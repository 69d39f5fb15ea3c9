"""A small paper repository whose paperpack.yml declares a data file served by the loopback DOI server.

Shared by the build pipeline tests and the verify() tests: one notebook reads ``data/obs.csv``
(three lines) and prints how many lines it has, so a run shows whether the data arrived.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from doiserver import DoiServer

PAYLOAD = b"x,y\n1,2\n3,4\n"


@dataclass(frozen=True)
class DataPaper:
    root: Path  #: the repository
    payload: bytes  #: the bytes of data/obs.csv as the server sends them
    url: str  #: where the server sends them


def data_paper(parent: Path, doi_env: DoiServer, name: str = "paper") -> DataPaper:
    """``parent/name``: requirements.txt (empty), paperpack.yml declaring data/obs.csv by URL and sha256, read.ipynb."""
    url = doi_env.add_file("obs.csv", PAYLOAD)
    root = parent / name
    root.mkdir()
    (root / "requirements.txt").write_text("")
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    (root / "paperpack.yml").write_text(
        f"version: 1\ndata:\n  - url: {url}\n    files:\n      - path: data/obs.csv\n        url: {url}\n"
        f"        sha256: {sha}\n"
    )
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell("print(open('data/obs.csv').read().count('\\n'))")]
    nbformat.write(nb, root / "read.ipynb")
    return DataPaper(root=root, payload=PAYLOAD, url=url)
