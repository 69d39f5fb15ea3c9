"""Compare a re-executed notebook with its committed outputs, cell by cell.

Verdicts (:class:`Verdict`): ``same`` (every compared output matches after normalisation and
within tolerance), ``same-with-warnings`` (the same, and the run printed Python warnings the
committed notebook did not show: listed), ``differs`` (with the cells and a short diff of each),
``no-outputs`` (the committed notebook stores no outputs to compare with). ``failed`` is decided
by the run, not here.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..notebook.cells import cell_name
from ..notebook.verdicts import Verdict
from .images import decode_image, image_similarity
from .normalize import normalise_text
from .numbers import texts_match
from .rich import RICH_TYPES, rich_content
from .stderr import PrintedWarning, split_warnings

__all__ = [
    "CompareOptions",
    "CellDifference",
    "Comparison",
    "NewWarning",
    "Verdict",
    "compare_notebooks",
    "INJECTED_TAG",
]

INJECTED_TAG = "injected-parameters"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
WIDGET_TYPE = "application/vnd.jupyter.widget-view+json"
MAX_DIFF_LINES = 12


@dataclass
class CompareOptions:
    """Tolerances; the manifest's ``compare`` section (top level, then per notebook) sets them."""

    rtol: float = 1e-5
    atol: float = 1e-8
    image_threshold: float = 0.78  # chosen on tests/compare_pairs.py: see images.py
    ignore_cells: list[int] = field(default_factory=list)
    ignore_patterns: list[str] = field(default_factory=list)
    workdirs: list[str] = field(default_factory=list)

    @classmethod
    def from_manifest(cls, section: dict[str, Any] | None, workdirs: Iterable[str] = ()) -> CompareOptions:
        section = section or {}
        base = cls()
        return cls(
            rtol=float(section.get("rtol", base.rtol)),
            atol=float(section.get("atol", base.atol)),
            image_threshold=float(section.get("image_threshold", base.image_threshold)),
            ignore_cells=list(section.get("ignore_cells", [])),
            ignore_patterns=list(section.get("ignore_patterns", [])),
            workdirs=list(workdirs),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rtol": self.rtol,
            "atol": self.atol,
            "image_threshold": self.image_threshold,
            "ignore_cells": self.ignore_cells,
            "ignore_patterns": self.ignore_patterns,
        }


@dataclass
class CellDifference:
    cell: int  # index in the committed notebook
    reason: str
    diff: str = ""
    where: str = ""  # the cell as a person finds it: "code cell 3 (In [7])" (paperpack.notebook.cells)

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "where": self.where, "reason": self.reason, "diff": self.diff}


@dataclass(frozen=True)
class NewWarning:
    """A Python warning the re-executed cell printed on stderr and the committed one did not."""

    cell: int  # index in the committed notebook
    warning: PrintedWarning
    where: str = ""  # the cell as a person finds it: "code cell 3 (In [7])" (paperpack.notebook.cells)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "where": self.where,
            "category": self.warning.category,
            "message": self.warning.message,
        }


@dataclass
class Comparison:
    verdict: Verdict
    compared: int = 0
    differences: list[CellDifference] = field(default_factory=list)
    message: str = ""
    options: CompareOptions = field(default_factory=CompareOptions)
    new_warnings: list[NewWarning] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "cells_compared": self.compared,
            "message": self.message,
            "differences": [d.to_dict() for d in self.differences],
            "new_warnings": [w.to_dict() for w in self.new_warnings],
            "tolerances": self.options.to_dict(),
        }


# --- outputs as comparable items ------------------------------------------------------------


@dataclass
class Item:
    """One comparable piece of a cell's outputs: a stream, one MIME type of a bundle, an error."""

    kind: str  # "text" or "image"
    label: str  # the MIME type, "stream:<name>" or "error"
    value: Any
    bundle: int = -1  # which display/execute_result output it belongs to (-1: none)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _bundle_items(data: dict[str, Any], bundle: int) -> list[Item]:
    items: list[Item] = []
    for mime in sorted(data):  # the widget view sorts before text/plain, which it makes redundant
        value = data[mime]
        if mime in IMAGE_TYPES:
            items.append(Item("image", mime, _text(value).replace("\n", ""), bundle))
        elif mime == WIDGET_TYPE:
            view = dict(value) if isinstance(value, dict) else {}
            view.pop("model_id", None)
            items.append(Item("text", mime, json.dumps(view, sort_keys=True), bundle))
        elif isinstance(value, (dict, list)) and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            items.append(Item("text", mime, json.dumps(value, sort_keys=True, indent=1), bundle))
        else:
            items.append(Item("text", mime, _text(value), bundle))
    return items


def output_items(outputs: list[dict[str, Any]]) -> tuple[list[Item], list[PrintedWarning]]:
    """The items of a cell's outputs, and the warnings taken out of its stderr."""
    items: list[Item] = []
    warnings: list[PrintedWarning] = []
    for number, output in enumerate(outputs):
        kind = output.get("output_type")
        if kind == "stream":
            name = f"stream:{output.get('name', 'stdout')}"
            text = _text(output.get("text", ""))
            if name == "stream:stderr":
                text, found = split_warnings(text)
                warnings += found
                if not text.strip():
                    continue
            if items and items[-1].label == name:
                items[-1].value += text  # chunking differs from run to run
            else:
                items.append(Item("text", name, text))
        elif kind in ("execute_result", "display_data"):
            items += _bundle_items(output.get("data", {}), number)
        elif kind == "error":
            items.append(Item("text", "error", f"{output.get('ename', '')}: {output.get('evalue', '')}"))
    return items, warnings


def _show(items: list[Item], options: CompareOptions) -> list[str]:
    lines: list[str] = []
    for item in items:
        if item.kind == "image":
            image = decode_image(item.value)
            size = f" {image.width}x{image.height}" if image is not None else ""
            lines.append(f"[{item.label}{size}]")
        else:
            lines.append(f"[{item.label}]")
            lines.extend(normalise_text(item.value, options.ignore_patterns, options.workdirs).split("\n"))
    return lines


def _short_diff(a: list[str], b: list[str]) -> str:
    diff = list(difflib.unified_diff(a, b, "committed", "re-executed", n=1, lineterm=""))[2:]
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"… {len(diff) - MAX_DIFF_LINES} more lines"]
    return "\n".join(line[:200] for line in diff)


def _item_reason(x: Item, y: Item, options: CompareOptions, unread: list[str]) -> str:
    """Why two items of the same label differ, or "" when they are the same (then what of them could not be
    checked is added to ``unread``)."""
    if x.kind == "image":
        score = image_similarity(x.value, y.value)
        if score.value < options.image_threshold:
            return f"{x.label} looks different (similarity {score.value:.3f} < {options.image_threshold}{score.note})"
        if score.unread:
            unread.append(score.unread)
        return ""
    nx = normalise_text(x.value, options.ignore_patterns, options.workdirs)
    ny = normalise_text(y.value, options.ignore_patterns, options.workdirs)
    if x.label in RICH_TYPES:
        nx, ny = rich_content(x.label, nx), rich_content(y.label, ny)
    return "" if texts_match(nx, ny, options.rtol, options.atol) else f"{x.label} differs"


def compare_cell(
    index: int,
    ref: list[dict[str, Any]],
    new: list[dict[str, Any]],
    options: CompareOptions,
    where: str = "",
    unread: list[str] | None = None,
) -> tuple[CellDifference | None, list[NewWarning]]:
    """The cell's difference (None when the same) and the warnings only the re-execution printed.

    ``where`` names the cell in messages (default: "cell N", 1-based). Why a figure's re-rendered text
    could not be read is added to ``unread`` (a *same* that did not check it).
    """
    unread = [] if unread is None else unread
    where = where or cell_name([], index)
    a, ref_warnings = output_items(ref)
    b, new_warnings = output_items(new)
    known = set(ref_warnings)
    fresh = [NewWarning(index, w, where) for w in dict.fromkeys(new_warnings) if w not in known]
    reason = ""
    if [(i.kind, i.label) for i in a] != [(i.kind, i.label) for i in b]:
        reason = "the outputs are not of the same kinds"
    else:
        same_widgets: set[int] = set()
        for x, y in zip(a, b):
            if x.label == "text/plain" and x.bundle in same_widgets:
                continue  # a widget's text repr changes with ipywidgets; its state was compared
            reason = _item_reason(x, y, options, unread)
            if reason:
                break
            if x.label == WIDGET_TYPE:
                same_widgets.add(x.bundle)
    if not reason:
        return None, fresh
    return CellDifference(
        cell=index, reason=reason, diff=_short_diff(_show(a, options), _show(b, options)), where=where
    ), fresh


# --- whole notebooks ------------------------------------------------------------------------


def _code_cells(nb: Any) -> list[tuple[int, Any]]:
    return [
        (i, c)
        for i, c in enumerate(nb.get("cells", []))
        if c.get("cell_type") == "code" and INJECTED_TAG not in c.get("metadata", {}).get("tags", [])
    ]


def cell_list(differences: list[CellDifference], limit: int = 8) -> str:
    """ "code cell 2 (In [2]), code cell 5 (In [6])": the cells that differ, as a person finds them."""
    more = " …" if len(differences) > limit else ""
    return ", ".join(d.where or cell_name([], d.cell) for d in differences[:limit]) + more


def _warnings_text(found: list[NewWarning]) -> str:
    shown = "; ".join(f"{w.where}: {w.warning}"[:160] for w in found[:3])
    more = f"; … {len(found) - 3} more" if len(found) > 3 else ""
    plural = "s" if len(found) > 1 else ""
    return f", with {len(found)} new warning{plural} ({shown}{more})"


def _not_read_text(not_read: list[tuple[str, str]]) -> str:
    """What a *same* did not check: the text of figures redrawn by another renderer, left unread."""
    if not not_read:
        return ""
    cells = ", ".join(where for where, _ in not_read[:3]) + (
        f" and {len(not_read) - 3} more" if len(not_read) > 3 else ""
    )
    return f" (the re-rendered text of the figure in {cells} was not read: {not_read[0][1]})"


def compare_notebooks(reference: Any, executed: Any, options: CompareOptions | None = None) -> Comparison:
    """Compare ``executed`` with the committed ``reference`` (both nbformat v4 dicts)."""
    options = options or CompareOptions()
    ref_cells, new_cells = _code_cells(reference), _code_cells(executed)
    if not any(c.get("outputs") for _, c in ref_cells):
        return Comparison(
            Verdict.NO_OUTPUTS, message="the committed notebook stores no outputs to compare with", options=options
        )
    if len(ref_cells) != len(new_cells):
        return Comparison(
            Verdict.DIFFERS,
            message=f"the executed notebook has {len(new_cells)} code cells, the committed one {len(ref_cells)}",
            options=options,
        )
    cell_types = [str(c.get("cell_type", "")) for c in reference.get("cells", [])]
    differences: list[CellDifference] = []
    new_warnings: list[NewWarning] = []
    not_read: list[tuple[str, str]] = []  # (cell, why): figures judged the same whose re-rendered text was not read
    compared = 0
    for (index, ref), (_, new) in zip(ref_cells, new_cells):
        if index in options.ignore_cells:
            continue
        if not ref.get("outputs") and ref.get("execution_count") is None:
            continue  # never executed by the author: nothing to compare with
        if not ref.get("outputs") and not new.get("outputs"):
            continue  # no output on either side: nothing was compared
        compared += 1
        where = cell_name(cell_types, index, ref.get("execution_count"))
        unread: list[str] = []
        found, fresh = compare_cell(index, ref.get("outputs", []), new.get("outputs", []), options, where, unread)
        if unread and not found:
            not_read.append((where, unread[0]))
        new_warnings += fresh
        if found:
            differences.append(found)
    if differences:
        return Comparison(
            Verdict.DIFFERS,
            compared,
            differences,
            f"{len(differences)} of {compared} cells differ: {cell_list(differences)}",
            options,
            new_warnings,
        )
    plural = "s" if compared != 1 else ""
    message = f"{compared} cell{plural} with the same results" + _not_read_text(not_read)
    if new_warnings:
        return Comparison(
            Verdict.SAME_WITH_WARNINGS,
            compared,
            message=message + _warnings_text(new_warnings),
            options=options,
            new_warnings=new_warnings,
        )
    return Comparison(Verdict.SAME, compared, message=message, options=options)
