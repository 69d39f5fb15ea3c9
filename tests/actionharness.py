"""Run paperpack's CI integrations the way their runners do, for tests.

:func:`run_action` runs a composite GitHub Action (``action.yml``) as the Actions runner does:

- the inputs get their defaults; an input the action does not declare is an error;
- each step's ``if:`` is evaluated (``success()`` implied unless a status function is used);
- ``${{ … }}`` expressions (``inputs.*``, ``github.*``, ``runner.*``, ``env.*``,
  ``steps.<id>.outputs.*`` / ``outcome`` / ``conclusion``) are substituted into ``run:``, ``env:``,
  ``with:`` and ``working-directory`` as text, exactly where the runner substitutes them — so an
  input written into a script can inject shell code here as it would there;
- each ``run:`` step runs in ``bash --noprofile --norc -eo pipefail`` with ``GITHUB_OUTPUT``,
  ``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV``, ``GITHUB_PATH``, ``GITHUB_WORKSPACE``,
  ``GITHUB_ACTION_PATH`` and ``RUNNER_TEMP`` set, in the workspace; what a step adds to
  ``GITHUB_ENV`` and ``GITHUB_PATH`` reaches the steps after it;
- ``uses:`` steps are not run (they need GitHub) but recorded with their evaluated ``with:``;
- workflow commands in the log (``::error …::``) are read as the runner reads them, honouring
  ``::stop-commands::TOKEN`` … ``::TOKEN::``;
- the action's outputs are its ``outputs.*.value`` expressions, evaluated at the end.

An expression the harness does not model (another function, an operator) raises
:class:`HarnessError` rather than guessing. :func:`run_gitlab_job` does the same for a GitLab CI
job of a template (``extends:`` merged, variables expanded, ``before_script`` and ``script`` run
in bash, ``artifacts`` paths expanded).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

__all__ = [
    "HarnessError",
    "StepRun",
    "ActionRun",
    "Annotation",
    "run_action",
    "load_yaml",
    "evaluate",
    "substitute",
    "parse_file_commands",
    "read_annotations",
    "GitlabJob",
    "run_gitlab_job",
]

STEP_TIMEOUT = 1800


class HarnessError(Exception):
    """The action uses something the harness does not model, or is malformed."""


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


# --- expressions ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\)|,)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_][A-Za-z0-9_\-]*)*))"
)
_STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise HarnessError(f"cannot read the expression {text!r} at {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


@dataclass
class Context:
    inputs: dict[str, str]
    github: dict[str, str]
    runner: dict[str, str]
    env: dict[str, str]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: bool = False  # a step before failed (for success() / failure())

    def lookup(self, path: str) -> Any:
        head, *rest = path.split(".")
        roots: dict[str, Any] = {
            "inputs": self.inputs,
            "github": self.github,
            "runner": self.runner,
            "env": self.env,
            "steps": self.steps,
        }
        if head not in roots:
            raise HarnessError(f"unknown context {head!r} in {path!r}")
        value: Any = roots[head]
        for part in rest:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value


def _truthy(value: Any) -> bool:
    return value not in (None, False, "", 0)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()  # GitHub compares strings ignoring case
    if a is None and isinstance(b, str):
        return b == ""
    if b is None and isinstance(a, str):
        return a == ""
    if type(a) is not type(b):
        raise HarnessError(f"comparison of {a!r} and {b!r}: the harness models only like types")
    return bool(a == b)


class _Parser:
    def __init__(self, text: str, context: Context):
        self.tokens = _tokens(text)
        self.pos = 0
        self.context = context
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise HarnessError(f"expected {value or 'more'} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise HarnessError(f"unexpected {self.peek()!r} in {self.text!r}")
        return value

    def or_(self) -> Any:
        return self.chain("||", self.and_, lambda left, right: left if _truthy(left) else right)

    def and_(self) -> Any:
        return self.chain("&&", self.not_, lambda left, right: right if _truthy(left) else left)

    def chain(self, operator: str, operand: Callable[[], Any], pick: Callable[[Any, Any], Any]) -> Any:
        """``operand (operator operand)*`` folded left with ``pick``; every operand is evaluated (so each must be
        one the harness models)."""
        value = operand()
        while self.peek() == ("op", operator):
            self.take()
            value = pick(value, operand())
        return value

    def not_(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.not_())
        return self.compare()

    def compare(self) -> Any:
        value = self.primary()
        token = self.peek()
        if token in (("op", "=="), ("op", "!=")):
            self.take()
            equal = _equal(value, self.primary())
            return equal if token == ("op", "==") else not equal
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if (kind, text) == ("op", "("):
            value = self.or_()
            self.take(")")
            return value
        if kind == "name":
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            if self.peek() == ("op", "("):
                if text not in _STATUS_FUNCTIONS:
                    raise HarnessError(f"the function {text}() is not modelled by the harness")
                self.take("(")
                self.take(")")
                return self.call(text)
            return self.context.lookup(text)
        raise HarnessError(f"unexpected {text!r} in {self.text!r}")

    def call(self, name: str) -> bool:
        if name == "always":
            return True
        if name == "success":
            return not self.context.failed
        if name == "failure":
            return self.context.failed
        return False  # cancelled(): a run here is never cancelled


def evaluate(expression: str, context: Context) -> Any:
    return _Parser(expression, context).parse()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def substitute(text: str, context: Context) -> str:
    """``text`` with every ``${{ expr }}`` replaced by its value, as the runner does (no quoting)."""
    return _EXPRESSION.sub(lambda m: _text(evaluate(m.group(1), context)), text)


def _condition(raw: Any, context: Context) -> bool:
    if raw is None:
        return not context.failed
    if isinstance(raw, bool):
        return raw and not context.failed
    text = str(raw).strip()
    whole = _EXPRESSION.fullmatch(text)
    if whole:
        text = whole.group(1).strip()
    elif "${{" in text:
        raise HarnessError(f"if: {raw!r} mixes text and expressions")
    if not any(re.search(rf"\b{name}\(\)", text) for name in _STATUS_FUNCTIONS):
        text = f"success() && ({text})"
    return _truthy(evaluate(text, context))


# --- runner files and commands ----------------------------------------------------------------------


def parse_file_commands(text: str) -> dict[str, str]:
    """``GITHUB_OUTPUT`` / ``GITHUB_ENV`` content: ``name=value`` and ``name<<DELIMITER`` blocks."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise HarnessError(f"file command {name!r}: no closing delimiter {delimiter!r}")
            i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise HarnessError(f"file command line {line!r} is neither name=value nor name<<DELIMITER")
    return values


@dataclass(frozen=True)
class Annotation:
    level: str  # error, warning, notice
    properties: dict[str, str]
    message: str


_COMMAND = re.compile(r"^::([a-zA-Z-]+)(?: ([^:]*))?::(.*)$")


def _unescape(text: str, prop: bool = False) -> str:
    if prop:
        text = text.replace("%3A", ":").replace("%2C", ",")
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def read_annotations(log: str) -> list[Annotation]:
    """The annotations the runner would make from ``log``, honouring ``::stop-commands::``."""
    found: list[Annotation] = []
    stopped_until: str | None = None
    for line in log.splitlines():
        if stopped_until is not None:
            if line.strip() == f"::{stopped_until}::":
                stopped_until = None
            continue
        m = _COMMAND.match(line.strip())
        if not m:
            continue
        command, props, data = m.group(1), m.group(2) or "", m.group(3)
        if command == "stop-commands":
            stopped_until = data
        elif command in ("error", "warning", "notice"):
            properties = {}
            for part in filter(None, props.split(",")):
                key, _, value = part.partition("=")
                properties[key.strip()] = _unescape(value, prop=True)
            found.append(Annotation(command, properties, _unescape(data)))
    return found


# --- the action ---------------------------------------------------------------------------------------


@dataclass
class StepRun:
    id: str | None
    name: str
    uses: str | None
    run: str | None  # the script as substituted
    with_: dict[str, str]
    env: dict[str, str]
    ran: bool
    outcome: str  # success, failure, skipped
    exit_code: int | None = None
    log: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]

    @property
    def failed(self) -> bool:
        return any(s.outcome == "failure" for s in self.steps)

    @property
    def exit_code(self) -> int:
        """The exit status of the first failed step (the one that failed the job), else 0."""
        return next((s.exit_code or 1 for s in self.steps if s.outcome == "failure"), 0)

    @property
    def log(self) -> str:
        return "".join(s.log for s in self.steps)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    @property
    def annotations(self) -> list[Annotation]:
        return [a for s in self.steps for a in read_annotations(s.log)]

    def step(self, key: str) -> StepRun:
        for s in self.steps:
            if key in (s.id, s.name):
                return s
        raise KeyError(key)

    def uses(self, prefix: str) -> StepRun:
        for s in self.steps:
            if s.uses and s.uses.split("@")[0] == prefix:
                return s
        raise KeyError(prefix)


def run_action(
    action_dir: Path,
    *,
    inputs: Mapping[str, str],
    workspace: Path,
    runner_temp: Path,
    env: Mapping[str, str] | None = None,
) -> ActionRun:
    """Run the composite action in ``action_dir`` with ``inputs`` in ``workspace``.

    ``env``: the runner's environment (default: this process's, without GITHUB_* and RUNNER_*).
    """
    action = load_yaml(action_dir / "action.yml")
    if (action.get("runs") or {}).get("using") != "composite":
        raise HarnessError("only composite actions are modelled")
    declared = action.get("inputs") or {}
    unknown = set(inputs) - set(declared)
    if unknown:
        raise HarnessError(f"inputs the action does not declare: {sorted(unknown)}")
    resolved = {}
    for name, spec in declared.items():
        spec = spec or {}
        if name in inputs:
            resolved[name] = str(inputs[name])
        elif spec.get("required") and "default" not in spec:
            raise HarnessError(f"required input {name!r} not given")
        else:
            resolved[name] = _text(spec.get("default"))

    runner_temp.mkdir(parents=True, exist_ok=True)
    files = runner_temp / "_runner_file_commands"
    files.mkdir(exist_ok=True)
    env_file, path_file = files / "set_env", files / "add_path"
    env_file.write_text("")
    path_file.write_text("")
    base = {k: v for k, v in (os.environ if env is None else env).items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    github = {
        "action_path": str(action_dir),
        "workspace": str(workspace),
        "action": "__paperpack",
        "event_name": "push",
        "job": "verify",
        "repository": "paperpack/paper",
    }
    runner = {"temp": str(runner_temp), "os": "Linux", "arch": "X64"}
    context = Context(inputs=resolved, github=github, runner=runner, env=dict(base))

    steps: list[StepRun] = []
    for number, spec in enumerate(action["runs"].get("steps") or []):
        step_id = spec.get("id")
        name = str(spec.get("name") or spec.get("uses") or f"step {number}")
        runs = _condition(spec.get("if"), context)
        if not runs:
            steps.append(StepRun(step_id, name, spec.get("uses"), None, {}, {}, ran=False, outcome="skipped"))
            if step_id:
                context.steps[step_id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
            continue
        step_env = {k: substitute(_text(v), context) for k, v in (spec.get("env") or {}).items()}
        with_ = {k: substitute(_text(v), context) for k, v in (spec.get("with") or {}).items()}
        if spec.get("uses"):
            steps.append(StepRun(step_id, name, spec["uses"], None, with_, step_env, ran=False, outcome="success"))
            if step_id:
                context.steps[step_id] = {"outputs": {}, "outcome": "success", "conclusion": "success"}
            continue
        if spec.get("shell") != "bash":
            raise HarnessError(f"step {name!r}: composite run steps need a shell, and the harness models bash only")
        record = _run_step(
            spec, name, step_id, step_env, context, workspace, runner_temp, number, env_file, path_file, base
        )
        steps.append(record)
        if record.outcome == "failure" and not spec.get("continue-on-error"):
            context.failed = True
        if step_id:
            context.steps[step_id] = {
                "outputs": record.outputs,
                "outcome": record.outcome,
                "conclusion": record.outcome,
            }
    outputs = {
        name: substitute(_text((spec or {}).get("value")), context)
        for name, spec in (action.get("outputs") or {}).items()
    }
    return ActionRun(steps, outputs)


def _run_step(
    spec: Mapping[str, Any],
    name: str,
    step_id: str | None,
    step_env: dict[str, str],
    context: Context,
    workspace: Path,
    runner_temp: Path,
    number: int,
    env_file: Path,
    path_file: Path,
    base: Mapping[str, str],
) -> StepRun:
    script = substitute(str(spec["run"]), context)
    script_path = runner_temp / f"step{number}.sh"
    script_path.write_text(script, encoding="utf-8")
    output_file, summary_file = runner_temp / f"output{number}", runner_temp / f"summary{number}"
    output_file.write_text("")
    summary_file.write_text("")
    exported = parse_file_commands(env_file.read_text(encoding="utf-8"))
    added_paths = [p for p in reversed(path_file.read_text(encoding="utf-8").splitlines()) if p]
    full = {**base, **exported, **step_env}
    full["PATH"] = os.pathsep.join([*added_paths, full.get("PATH", os.defpath)])
    full.update(
        {
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "GITHUB_ENV": str(env_file),
            "GITHUB_PATH": str(path_file),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": context.github["action_path"],
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_ACTIONS": "true",
            "CI": "true",
        }
    )
    cwd = workspace / substitute(str(spec.get("working-directory") or "."), context)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_path)],
        cwd=cwd,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    log = done.stdout.decode("utf-8", "replace")
    return StepRun(
        step_id,
        name,
        None,
        script,
        {},
        step_env,
        ran=True,
        outcome="success" if done.returncode == 0 else "failure",
        exit_code=done.returncode,
        log=log,
        outputs=parse_file_commands(output_file.read_text(encoding="utf-8")),
        summary=summary_file.read_text(encoding="utf-8"),
    )


# --- GitLab -------------------------------------------------------------------------------------------


@dataclass
class GitlabJob:
    exit_code: int
    log: str
    variables: dict[str, str]
    artifacts: dict[str, Any]  # `artifacts:` with every path expanded


_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _expand(text: str, variables: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def _merge(base: Any, override: Any) -> Any:
    """GitLab's ``extends:`` merge: hashes deep-merged, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return override


def _resolve_job(config: Mapping[str, Any], name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if name in seen:
        raise HarnessError(f"extends loop: {' → '.join((*seen, name))}")
    job = dict(config[name])
    parents = job.pop("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _merge(merged, _resolve_job(config, parent, (*seen, name)))
    return _merge(merged, job)


def run_gitlab_job(
    template: Path, job: str, *, project_dir: Path, variables: Mapping[str, str], env: Mapping[str, str] | None = None
) -> GitlabJob:
    """Run ``job`` of the CI template as a shell runner would: before_script and script in one bash."""
    config = load_yaml(template)
    resolved = _resolve_job(config, job)
    unknown = set(resolved) - {
        "image",
        "stage",
        "variables",
        "before_script",
        "script",
        "artifacts",
        "rules",
        "services",
        "interruptible",
        "timeout",
        "cache",
        "needs",
        "tags",
    }
    if unknown:
        raise HarnessError(f"job keys the harness does not model: {sorted(unknown)}")
    base = {k: v for k, v in (os.environ if env is None else env).items() if not k.startswith(("CI_", "GITLAB_"))}
    predefined = {"CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": str(project_dir), "CI_JOB_NAME": job}
    values: dict[str, str] = dict(predefined)
    for layer in (config.get("variables") or {}, resolved.get("variables") or {}, variables):
        for key, value in layer.items():
            raw = value.get("value", "") if isinstance(value, dict) else value
            values[key] = _expand(_text(raw), {**base, **values})
    lines = [*(resolved.get("before_script") or []), *(resolved.get("script") or [])]
    script = "\n".join(str(line) for line in lines) + "\n"
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=project_dir,
        env={**base, **values},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    artifacts = _expand_tree(resolved.get("artifacts") or {}, values)
    return GitlabJob(done.returncode, done.stdout.decode("utf-8", "replace"), values, artifacts)


def _expand_tree(tree: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(tree, dict):
        return {k: _expand_tree(v, variables) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_expand_tree(v, variables) for v in tree]
    return _expand(tree, variables) if isinstance(tree, str) else tree
