"""The generated world the demo serves: customers, the true churn and lifetime value
behind them, and the incident schedule.

Incidents (times in Unix ns):
- drift: from `drift_start`, support tickets per customer quadruple (a support outage);
  only the churn model uses that feature, so only its drift report should flag it;
- regression: from `regression_start`, churn v2 runs a broken feature transform (tenure
  read as 0), so its accuracy falls while v1's does not;
- latency spikes: in each `spike` window, the LTV regressor takes 300-500 ms.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

CHURN_FEATURES = ["tenure_months", "monthly_spend", "support_tickets", "plan"]
LTV_FEATURES = ["monthly_spend", "tenure_months", "visits_30d", "region"]
PLANS, REGIONS = ["basic", "plus", "pro"], ["eu", "us", "apac"]
HOUR_NS, DAY_NS = 3600 * 10**9, 86_400 * 10**9


@dataclass(frozen=True)
class Incidents:
    drift_start: int
    regression_start: int
    spikes: tuple[tuple[int, int], ...]

    @classmethod
    def schedule(cls, live_start: int, duration_s: float, backfill: bool) -> "Incidents":
        """With a backfill, drift covers the last day and the regression the last three;
        one spike yesterday and one mid-run. Without, everything happens in the live run."""
        live = int(duration_s * 10**9)
        spike = (live_start + int(live * 0.4), live_start + int(live * 0.6))
        if backfill:
            return cls(live_start - DAY_NS, live_start - 3 * DAY_NS, ((live_start - 30 * HOUR_NS, live_start - 29 * HOUR_NS), spike))
        return cls(live_start + int(live * 0.3), live_start + int(live * 0.5), (spike,))

    def live_from(self, live_start: int, duration_s: float, backfill: bool) -> "Incidents":
        """The schedule with its live part moved to when live traffic really starts (after
        the backfill); the history's windows stay as they were recorded."""
        if not backfill:
            return Incidents.schedule(live_start, duration_s, backfill=False)
        live = Incidents.schedule(live_start, duration_s, backfill=True)
        return Incidents(self.drift_start, self.regression_start, self.spikes[:-1] + live.spikes[-1:])

    def drifted(self, times: np.ndarray) -> np.ndarray:
        return times >= self.drift_start

    def regressed(self, t: int) -> bool:
        return t >= self.regression_start

    def spiking(self, times: np.ndarray) -> np.ndarray:
        found = np.zeros(len(times), dtype=bool)
        for start, end in self.spikes:
            found |= (times >= start) & (times < end)
        return found


def customers(rng: np.random.Generator, ids: np.ndarray, drifted: np.ndarray) -> pd.DataFrame:
    """Feature rows for these customers (tickets higher where `drifted`)."""
    n = len(ids)
    return pd.DataFrame({
        "customer_id": ids,
        "tenure_months": rng.gamma(2.0, 12.0, n).round(1),
        "monthly_spend": rng.lognormal(3.6, 0.4, n).round(2),
        "support_tickets": rng.poisson(np.where(drifted, 4.0, 1.0)),
        "plan": rng.choice(PLANS, n, p=[0.5, 0.3, 0.2]),
        "visits_30d": rng.poisson(8, n),
        "region": rng.choice(REGIONS, n, p=[0.4, 0.4, 0.2]),
    })


def churn_probability(frame: pd.DataFrame) -> np.ndarray:
    plan = frame["plan"].map({"basic": 0.4, "plus": 0.0, "pro": -0.5}).to_numpy()
    logit = (1.4 - 0.1 * frame["tenure_months"] + 0.6 * (frame["support_tickets"] - 1)
             - 0.01 * (frame["monthly_spend"] - 40) + plan)
    return np.asarray(1 / (1 + np.exp(-logit)))


def churn_labels(rng: np.random.Generator, frame: pd.DataFrame) -> np.ndarray:
    return np.where(rng.random(len(frame)) < churn_probability(frame), "churn", "stay")


def lifetime_value(rng: np.random.Generator, frame: pd.DataFrame) -> np.ndarray:
    region = frame["region"].map({"eu": 1.0, "us": 1.2, "apac": 0.8}).to_numpy()
    base = frame["monthly_spend"] * (6 + 0.5 * frame["tenure_months"] ** 0.8) * region + 15 * frame["visits_30d"]
    return np.asarray((base + rng.normal(0, 40, len(frame))).round(2))


def version_of(customer_id: int) -> str:
    """The A/B split: half of the customers see v2, always the same half."""
    return "v2" if zlib.crc32(str(customer_id).encode()) % 2 else "v1"
