"""The settings of a CI run (GitHub Action, GitLab template), read from environment variables.

Both integrations pass their inputs as environment variables, never inside shell code: the
action's steps map ``${{ inputs.x }}`` to ``PAPERPACK_X`` through ``env:``, the GitLab template
declares the same ``PAPERPACK_X`` as CI/CD variables. :meth:`CiSettings.from_env` reads and
checks them (a bad value names the input and the values it accepts), and
:meth:`CiSettings.build_argv` turns them into the arguments of ``paperpack build`` — the same
command line an author runs.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..image.builder import MODES
from ..repository.repo import DEFAULT_OUTPUT

__all__ = ["FailOn", "CiSettings", "parse_parameters", "ENGINES", "VARIABLES"]

ENGINES = ("auto", "docker", "local")

#: input name (action.yml, docs) → the environment variable it travels in
VARIABLES = {
    "path": "PAPERPACK_PATH",
    "mode": "PAPERPACK_MODE",
    "engine": "PAPERPACK_ENGINE",
    "timeout": "PAPERPACK_TIMEOUT",
    "cell-timeout": "PAPERPACK_CELL_TIMEOUT",
    "parameters": "PAPERPACK_PARAMETERS",
    "fail-on": "PAPERPACK_FAIL_ON",
    "report-dir": "PAPERPACK_REPORT_DIR",
    "image-name": "PAPERPACK_IMAGE_NAME",
    "push": "PAPERPACK_PUSH",
    "binder-hub": "PAPERPACK_BINDER_HUB",
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off", "")


class FailOn(str, enum.Enum):
    """When the CI job fails (``fail-on``); each level includes the ones before it."""

    FAILED = "failed"  # a notebook failed, or nothing ran (no image, no notebooks, an error before the run)
    DIFFERS = "differs"  # … or the paper was not reproduced (a notebook differs, or had no outputs to compare)
    FINDINGS = "findings"  # … or validation found errors
    NEVER = "never"  # never: read the verdict from the outputs


@dataclass(frozen=True)
class CiSettings:
    path: Path = Path(".")
    mode: str = "auto"
    engine: str = "auto"
    timeout: float | None = None
    cell_timeout: float | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    fail_on: FailOn = FailOn.DIFFERS
    report_dir: Path = Path(DEFAULT_OUTPUT)
    image_name: str | None = None
    push: bool = False
    binder_hub: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CiSettings:
        """The settings in ``env`` (``PAPERPACK_PATH``…); unset or empty variables take the defaults."""

        def get(name: str) -> str:
            return env.get(VARIABLES[name], "").strip()

        return cls(
            path=Path(get("path") or "."),
            mode=_choice("mode", get("mode") or "auto", MODES),
            engine=_choice("engine", get("engine") or "auto", ENGINES),
            timeout=_seconds("timeout", get("timeout")),
            cell_timeout=_seconds("cell-timeout", get("cell-timeout")),
            parameters=parse_parameters(env.get(VARIABLES["parameters"], "")),
            fail_on=FailOn(_choice("fail-on", get("fail-on") or FailOn.DIFFERS.value, [f.value for f in FailOn])),
            report_dir=Path(get("report-dir") or DEFAULT_OUTPUT),
            image_name=get("image-name") or None,
            push=_boolean("push", get("push")),
            binder_hub=get("binder-hub") or None,
        )

    def build_argv(self) -> list[str]:
        """The arguments of ``paperpack build`` for these settings (the path last, after ``--``)."""
        argv = ["build", "--mode", self.mode, "--engine", self.engine, "--out-dir", str(self.report_dir)]
        if self.timeout is not None:
            argv += ["--timeout", repr(self.timeout)]
        if self.cell_timeout is not None:
            argv += ["--cell-timeout", repr(self.cell_timeout)]
        for name, value in self.parameters:
            argv += ["-p", name, value]
        if self.image_name:
            argv += ["--image-name", self.image_name]
        if self.push:
            argv.append("--push")
        return [*argv, "--", str(self.path)]


def parse_parameters(text: str) -> tuple[tuple[str, str], ...]:
    """``parameters``: one ``name=value`` a line; blank lines and lines starting with ``#`` are skipped.

    The value is given to ``paperpack build -p NAME VALUE`` as written (read as JSON when it can be,
    so ``n=100`` is a number and ``label="x"`` or ``label=x`` a string).
    """
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise ConfigError(
                f"input parameters ({VARIABLES['parameters']}), line {number}: {line[:80]!r} is not "
                "name=value with a Python variable name",
                hint="write one parameter a line, e.g. n_samples=100 (the name of a variable of the "
                "notebooks' `parameters` cell)",
            )
        pairs.append((name, value.strip()))
    return tuple(pairs)


def _choice(name: str, value: str, allowed: tuple[str, ...] | list[str]) -> str:
    if value not in allowed:
        raise ConfigError(
            f"input {name} ({VARIABLES[name]}): {value[:80]!r} is not one of {', '.join(allowed)}",
            hint=f"set {name} to one of: {', '.join(allowed)}",
        )
    return value


def _seconds(name: str, value: str) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        raise ConfigError(
            f"input {name} ({VARIABLES[name]}): expected a number of seconds above 0, got {value[:80]!r}",
            hint=f"set {name} to e.g. 600, or leave it empty for paperpack's default",
        )
    return seconds


def _boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(
        f"input {name} ({VARIABLES[name]}): expected true or false, got {value[:80]!r}",
        hint=f"set {name} to true or false",
    )
