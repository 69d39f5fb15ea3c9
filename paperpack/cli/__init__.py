"""The command line: a thin layer over the library. See :func:`paperpack.cli.main.main`."""

from .main import main

__all__ = ["main"]
