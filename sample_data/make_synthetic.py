"""Regenerate the synthetic sample CSVs (fixed seed, so the files are reproducible).

    python sample_data/make_synthetic.py

tanks.csv    - one multivariate series, hourly: a tank's pressure and temperature. The
               temperature follows a daily cycle; the pressure follows the temperature with a
               lag, plus slow refills (the classic "tanks" picture of features per time step).
sensors.csv  - long format (unique_id, ds, y): four parallel daily series of different
               lengths, each with its own level, trend and weekly season.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261122


def tanks(rng: np.random.Generator, hours: int = 24 * 30) -> pd.DataFrame:
    t = np.arange(hours)
    ds = pd.date_range("2024-03-01", periods=hours, freq="h")
    temperature = 18 + 6 * np.sin(2 * np.pi * (t - 9) / 24) + rng.normal(0, 0.4, hours)
    refill = 0.8 * ((t // 72) % 2)  # the tank is topped up every three days
    lagged = np.roll(temperature, 3)
    lagged[:3] = temperature[:3]
    pressure = 101.3 + 0.35 * (lagged - 18) + refill + rng.normal(0, 0.15, hours)
    return pd.DataFrame({"timestamp": ds.strftime("%Y-%m-%d %H:%M"),
                         "pressure": pressure.round(3), "temperature": temperature.round(3)})


def sensors(rng: np.random.Generator) -> pd.DataFrame:
    frames = []
    for k, (days, level, trend) in enumerate([(120, 50, 0.05), (100, 80, -0.03),
                                              (90, 20, 0.10), (110, 65, 0.0)]):
        t = np.arange(days)
        ds = pd.date_range("2025-01-01", periods=days, freq="D")
        weekly = 5 * np.sin(2 * np.pi * (t + k) / 7)
        y = level + trend * t + weekly + rng.normal(0, 1.0, days)
        frames.append(pd.DataFrame({"unique_id": f"sensor_{k + 1}",
                                    "ds": ds.strftime("%Y-%m-%d"), "y": y.round(3)}))
    return pd.concat(frames, ignore_index=True)


if __name__ == "__main__":
    rng = np.random.default_rng(SEED)
    tanks(rng).to_csv(HERE / "tanks.csv", index=False)
    sensors(rng).to_csv(HERE / "sensors.csv", index=False)
    print("wrote", HERE / "tanks.csv", "and", HERE / "sensors.csv")
