"""Compare a re-executed notebook with its committed outputs, cell by cell.

Verdicts: ``same`` (every compared output matches after normalisation and within
tolerance), ``differs`` (with the cells and a short diff of each), ``no-outputs`` (the
committed notebook stores no outputs to compare with). ``failed`` is decided by the run,
not here.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from .images import decode_image, image_similarity
from .normalize import normalise_text
from .numbers import texts_match

__all__ = ["CompareOptions", "CellDifference", "Comparison", "compare_notebooks", "INJECTED_TAG"]

INJECTED_TAG = "injected-parameters"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
WIDGET_TYPE = "application/vnd.jupyter.widget-view+json"
MAX_DIFF_LINES = 12


@dataclass
class CompareOptions:
    """Tolerances; the manifest's ``compare`` section (top level, then per notebook) sets them."""

    rtol: float = 1e-5
    atol: float = 1e-8
    image_threshold: float = 0.9
    ignore_cells: list[int] = field(default_factory=list)
    ignore_patterns: list[str] = field(default_factory=list)
    workdirs: list[str] = field(default_factory=list)

    @classmethod
    def from_manifest(cls, section: dict[str, Any] | None, workdirs: Iterable[str] = ()) -> "CompareOptions":
        section = section or {}
        base = cls()
        return cls(rtol=float(section.get("rtol", base.rtol)), atol=float(section.get("atol", base.atol)),
                   image_threshold=float(section.get("image_threshold", base.image_threshold)),
                   ignore_cells=list(section.get("ignore_cells", [])),
                   ignore_patterns=list(section.get("ignore_patterns", [])), workdirs=list(workdirs))

    def to_dict(self) -> dict[str, Any]:
        return {"rtol": self.rtol, "atol": self.atol, "image_threshold": self.image_threshold,
                "ignore_cells": self.ignore_cells, "ignore_patterns": self.ignore_patterns}


@dataclass
class CellDifference:
    cell: int  # index in the committed notebook
    reason: str
    diff: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell, "reason": self.reason, "diff": self.diff}


@dataclass
class Comparison:
    verdict: str
    compared: int = 0
    differences: list[CellDifference] = field(default_factory=list)
    message: str = ""
    options: CompareOptions = field(default_factory=CompareOptions)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "cells_compared": self.compared, "message": self.message,
                "differences": [d.to_dict() for d in self.differences], "tolerances": self.options.to_dict()}


# --- outputs as comparable items ------------------------------------------------------------

Item = tuple[str, str, Any]  # (kind, label, value)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def output_items(outputs: list[dict[str, Any]]) -> list[Item]:
    items: list[Item] = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            name = f"stream:{output.get('name', 'stdout')}"
            text = _text(output.get("text", ""))
            if items and items[-1][0] == "text" and items[-1][1] == name:
                items[-1] = ("text", name, items[-1][2] + text)  # chunking differs from run to run
            else:
                items.append(("text", name, text))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            for mime in sorted(data):
                value = data[mime]
                if mime in IMAGE_TYPES:
                    items.append(("image", mime, _text(value).replace("\n", "")))
                elif mime == WIDGET_TYPE:
                    view = dict(value) if isinstance(value, dict) else {}
                    view.pop("model_id", None)
                    items.append(("text", mime, json.dumps(view, sort_keys=True)))
                elif isinstance(value, (dict, list)) and not (isinstance(value, list)
                                                             and all(isinstance(v, str) for v in value)):
                    items.append(("text", mime, json.dumps(value, sort_keys=True, indent=1)))
                else:
                    items.append(("text", mime, _text(value)))
        elif kind == "error":
            items.append(("text", "error", f"{output.get('ename', '')}: {output.get('evalue', '')}"))
    return items


def _show(items: list[Item], options: CompareOptions) -> list[str]:
    lines: list[str] = []
    for kind, label, value in items:
        if kind == "image":
            image = decode_image(value)
            size = f" {image.width}x{image.height}" if image is not None else ""
            lines.append(f"[{label}{size}]")
        else:
            lines.append(f"[{label}]")
            lines.extend(normalise_text(value, options.ignore_patterns, options.workdirs).split("\n"))
    return lines


def _short_diff(a: list[str], b: list[str]) -> str:
    diff = list(difflib.unified_diff(a, b, "committed", "re-executed", n=1, lineterm=""))[2:]
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"… {len(diff) - MAX_DIFF_LINES} more lines"]
    return "\n".join(line[:200] for line in diff)


def compare_cell(index: int, ref: list[dict[str, Any]], new: list[dict[str, Any]],
                 options: CompareOptions) -> CellDifference | None:
    a, b = output_items(ref), output_items(new)
    reason = ""
    if [(k, label) for k, label, _ in a] != [(k, label) for k, label, _ in b]:
        reason = "the outputs are not of the same kinds"
    else:
        for (kind, label, x), (_k, _l, y) in zip(a, b):
            if kind == "image":
                score = image_similarity(x, y)
                if score < options.image_threshold:
                    reason = f"{label} looks different (similarity {score:.3f} < {options.image_threshold})"
                    break
            else:
                nx = normalise_text(x, options.ignore_patterns, options.workdirs)
                ny = normalise_text(y, options.ignore_patterns, options.workdirs)
                if not texts_match(nx, ny, options.rtol, options.atol):
                    reason = f"{label} differs"
                    break
    if not reason:
        return None
    return CellDifference(cell=index, reason=reason, diff=_short_diff(_show(a, options), _show(b, options)))


# --- whole notebooks ------------------------------------------------------------------------

def _code_cells(nb: Any) -> list[tuple[int, Any]]:
    return [(i, c) for i, c in enumerate(nb.get("cells", []))
            if c.get("cell_type") == "code" and INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]


def compare_notebooks(reference: Any, executed: Any, options: CompareOptions | None = None) -> Comparison:
    """Compare ``executed`` with the committed ``reference`` (both nbformat v4 dicts)."""
    options = options or CompareOptions()
    ref_cells, new_cells = _code_cells(reference), _code_cells(executed)
    if not any(c.get("outputs") for _, c in ref_cells):
        return Comparison("no-outputs", message="the committed notebook stores no outputs to compare with",
                          options=options)
    if len(ref_cells) != len(new_cells):
        return Comparison("differs", message=f"the executed notebook has {len(new_cells)} code cells, "
                          f"the committed one {len(ref_cells)}", options=options)
    differences: list[CellDifference] = []
    compared = 0
    for (index, ref), (_, new) in zip(ref_cells, new_cells):
        if index in options.ignore_cells:
            continue
        if not ref.get("outputs") and ref.get("execution_count") is None:
            continue  # never executed by the author: nothing to compare with
        compared += 1
        found = compare_cell(index, ref.get("outputs", []), new.get("outputs", []), options)
        if found:
            differences.append(found)
    if differences:
        cells = ", ".join(str(d.cell) for d in differences[:8]) + (" …" if len(differences) > 8 else "")
        plural = "s" if len(differences) > 1 else ""
        return Comparison("differs", compared, differences,
                          f"{len(differences)} of {compared} cells differ (cell{plural} {cells})", options)
    plural = "s" if compared != 1 else ""
    return Comparison("same", compared, message=f"{compared} cell{plural} with the same results", options=options)
