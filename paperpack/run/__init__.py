"""Run every notebook end to end — in the built image or a local environment — and judge the results.

``run_notebooks(repo, ...)`` is the entry point; the in-image script is ``runner.py``.
"""

from __future__ import annotations

from .api import run_notebooks
from .engines import Engine, EngineRegistry, default_registry, detect_engine
from .plan import Limits, Plan, PlannedNotebook, make_plan
from .results import FAILING_VERDICTS, NotebookRun, RunEvent, RunResult
from .scheduler import DaskExecutor, Executor, ThreadExecutor

__all__ = [
    "run_notebooks",
    "Engine",
    "EngineRegistry",
    "default_registry",
    "detect_engine",
    "Limits",
    "Plan",
    "PlannedNotebook",
    "make_plan",
    "FAILING_VERDICTS",
    "NotebookRun",
    "RunEvent",
    "RunResult",
    "DaskExecutor",
    "Executor",
    "ThreadExecutor",
]
