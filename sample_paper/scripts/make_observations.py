"""Make data/lorenz_observations.csv: noisy samples of one Lorenz (1963) trajectory.

Run once; the file is committed and its sha256 is in paperpack.yml. Deterministic:
a fixed seed and a tight integration tolerance give the same bytes on every machine
with the pinned numpy and scipy.

    python scripts/make_observations.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
SEED = 1963
NOISE = 0.5  # standard deviation of the observation error, same units as x, y, z
DT, ROWS, SPIN_UP = 0.05, 400, 10.0


def lorenz(t: float, s: np.ndarray) -> list[float]:
    x, y, z = s
    return [SIGMA * (y - x), x * (RHO - z) - y, x * y - BETA * z]


def main() -> None:
    spin = solve_ivp(lorenz, (0.0, SPIN_UP), [1.0, 1.0, 1.0], rtol=1e-10, atol=1e-12)
    times = np.arange(ROWS) * DT
    truth = solve_ivp(lorenz, (0.0, times[-1]), spin.y[:, -1], t_eval=times, rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(SEED)
    observed = truth.y.T + rng.normal(0.0, NOISE, size=(ROWS, 3))
    out = Path(__file__).resolve().parent.parent / "data" / "lorenz_observations.csv"
    lines = ["t,x,y,z"] + [f"{t:.2f},{x:.6f},{y:.6f},{z:.6f}" for t, (x, y, z) in zip(times, observed)]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
