"""``python -m paperpack.batch``: one submission's pipeline (the request as JSON on standard input).

Started by :func:`paperpack.batch.task.run_task`; see :mod:`paperpack.batch.pipeline`.
"""

from __future__ import annotations

import sys

from .pipeline import main

if __name__ == "__main__":
    sys.exit(main())
