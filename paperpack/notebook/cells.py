"""How every message names a notebook cell: as a person finds it in Jupyter (bottom layer).

``code cell 3 (In [7])`` is the third code cell of the committed notebook (markdown and raw
cells are not counted), with ``In [n]`` where the committed notebook stores an execution count.
Failures (:mod:`paperpack.run.outcome`) and comparisons (:mod:`paperpack.compare`) both use it,
so a reader sees one numbering; report.json keeps the 0-based index beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["cell_name"]


def cell_name(cell_types: Sequence[str], index: int | None, execution_count: int | None = None) -> str:
    """ "code cell 3 (In [7])" for cell ``index`` (0-based among all ``cell_types``, the notebook's cells in order).

    A cell that is not a code cell, or an index outside the notebook, is "cell N" (1-based);
    no index at all is "before the first cell".
    """
    if index is None:
        return "before the first cell"
    if not 0 <= index < len(cell_types) or cell_types[index] != "code":
        return f"cell {index + 1}"
    position = sum(1 for kind in cell_types[: index + 1] if kind == "code")
    count = f" (In [{execution_count}])" if execution_count is not None else ""
    return f"code cell {position}{count}"
