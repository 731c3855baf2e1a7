"""Alerts recomputed independently with pandas, to compare the rule engine's with."""

from __future__ import annotations

import numpy as np
import pandas as pd


def alerts_above(frame: pd.DataFrame, *, threshold: float, clear: float) -> list[tuple]:
    """(opened, ended or None, value at opening) of an ``above`` rule with hysteresis over ``frame`` (t, v)."""
    signal = pd.Series(np.where(frame["v"] > threshold, 1.0, np.where(frame["v"] <= clear, 0.0, np.nan)))
    state = signal.ffill().fillna(0.0)
    change = state.diff().fillna(state)
    opens, ends = frame[change == 1], frame[change == -1]
    out = []
    for _, row in opens.iterrows():
        later = ends[ends["t"] > row["t"]]
        end = pd.Timestamp(later["t"].iloc[0]).to_pydatetime() if len(later) else None
        out.append((pd.Timestamp(row["t"]).to_pydatetime(), end, float(row["v"])))
    return out
