"""docs/ci.md's copy-paste configurations: valid YAML, and every use of the action, the GitLab template and the
pre-commit hook names only inputs, outputs, variables and hooks that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from ruamel.yaml import YAML

from actionharness import load_yaml
from conftest import ROOT

DOC = ROOT / "docs" / "ci.md"
ACTION = "paperpack/paperpack"
TEMPLATE = "ci/gitlab/paperpack.gitlab-ci.yml"


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)


BLOCKS = yaml_blocks(DOC.read_text(encoding="utf-8"))


def steps(workflow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in (workflow.get("jobs") or {}).values():
        yield from job.get("steps") or []


def check_workflow(workflow: dict[str, Any], block: str) -> int:
    """The uses of the action in a workflow: inputs declared, outputs read from its step declared."""
    action = load_yaml(ROOT / "action.yml")
    inputs, outputs = set(action["inputs"]), set(action["outputs"])
    ids = set()
    used = 0
    for step in steps(workflow):
        if str(step.get("uses", "")).split("@")[0] == ACTION:
            used += 1
            assert set(step.get("with") or {}) <= inputs, set(step.get("with") or {}) - inputs
            for value in (step.get("with") or {}).values():
                assert isinstance(value, str), f"{value!r}: inputs are strings (quote numbers and booleans)"
            if step.get("id"):
                ids.add(step["id"])
    for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", block):
        if step_id in ids:
            assert output in outputs, output
    return used


def test_the_page_has_the_configurations_the_issue_asks_for() -> None:
    text = DOC.read_text(encoding="utf-8")
    for heading in (
        "### An author's repository",
        "### A journal's template repository",
        "### Pull requests from forks",
        "### Caching the image between runs",
        "### Uploading SARIF (code scanning)",
        "## GitLab CI",
        "## pre-commit",
    ):
        assert heading in text
    workflows = [YAML(typ="safe", pure=True).load(b) for b in BLOCKS]
    triggers = [w.get("on") or w.get(True) for w in workflows if isinstance(w, dict) and "jobs" in w]
    assert any(isinstance(t, dict) and "workflow_run" in t for t in triggers)
    assert "github/codeql-action/upload-sarif" in text and "actions/cache" in text


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_each_yaml_block_is_valid_and_names_what_exists(block: str) -> None:
    parsed = YAML(typ="safe", pure=True).load(block)
    assert isinstance(parsed, (dict, list)), "a configuration, not a scalar"
    if isinstance(parsed, dict) and "jobs" in parsed:  # a GitHub workflow
        for step in steps(parsed):
            assert ("uses" in step) != ("run" in step), step
        check_workflow(parsed, block)
    elif isinstance(parsed, dict) and "include" in parsed:  # a GitLab pipeline
        template = load_yaml(ROOT / TEMPLATE)
        variables = set(template[".paperpack"]["variables"])
        (include,) = parsed["include"]
        assert include["remote"].endswith(f"/{TEMPLATE}")
        for name, job in parsed.items():
            if name == "include":
                continue
            assert name == "paperpack" or job.get("extends") == ".paperpack", name
            own = {k for k in job.get("variables") or {} if k.startswith("PAPERPACK_")}
            assert own <= variables, own - variables
    elif isinstance(parsed, dict) and "repos" in parsed:  # a .pre-commit-config.yaml
        hooks = {hook["id"] for hook in load_yaml(ROOT / ".pre-commit-hooks.yaml")}
        (repo,) = parsed["repos"]
        assert repo["repo"].endswith("/paperpack/paperpack")
        assert {hook["id"] for hook in repo["hooks"]} <= hooks
    else:
        raise AssertionError(f"a YAML block of an unknown kind: {block[:80]!r}")


def test_every_workflow_uses_the_action_and_the_checker_catches_a_wrong_input() -> None:
    workflows = [(YAML(typ="safe", pure=True).load(b), b) for b in BLOCKS]
    for workflow, block in workflows:
        if isinstance(workflow, dict) and "jobs" in workflow and "workflow_run" not in (workflow.get("on") or {}):
            assert check_workflow(workflow, block) >= 1
    wrong = "jobs:\n  a:\n    steps:\n      - uses: paperpack/paperpack@v1\n        with:\n          fail_on: never\n"
    with pytest.raises(AssertionError, match="fail_on"):
        check_workflow(YAML(typ="safe", pure=True).load(wrong), wrong)
    unknown = (
        "jobs:\n  a:\n    steps:\n      - id: p\n        uses: paperpack/paperpack@v1\n"
        "      - run: echo ${{ steps.p.outputs.verdicts }}\n"
    )
    with pytest.raises(AssertionError, match="verdicts"):
        check_workflow(YAML(typ="safe", pure=True).load(unknown), unknown)


def test_the_readme_lists_the_three_integrations() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("action.yml", TEMPLATE, ".pre-commit-hooks.yaml", "docs/ci.md"):
        assert name in readme, name
