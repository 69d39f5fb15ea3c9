"""runner.py and kernelfork.py run under whatever nbclient and jupyter_client an image has: public API only.

A private name (``km._async_shutdown_kernel``) can change in any release of jupyter_client, and the runner
would then fail in images built later, not in paperpack's tests. The scripts may reach private names of
their own objects (``self._lock``) and nothing else, written as an attribute or through ``getattr``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from paperpack.run.engines import RUNNER

SCRIPTS = [RUNNER, RUNNER.with_name("kernelfork.py")]
#: private names of the standard library that are documented for use
ALLOWED = {("os", "_exit")}


def _private_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Attribute):
            owner, name = node.value, node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            owner, name = node.args[0], node.args[1].value
        else:
            continue
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        owner_name = owner.id if isinstance(owner, ast.Name) else ast.unparse(owner)
        if owner_name == "self" or (owner_name, name) in ALLOWED:
            continue
        found.append(f"{path.name}:{node.lineno}: {owner_name}.{name}")
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_no_private_api(script: Path) -> None:
    assert _private_uses(script) == []
