"""Live traffic: customers hit the frontend at `rate` requests/s from a small pool of
threads; ground truth for a share of the predictions arrives a few seconds later."""

from __future__ import annotations

import heapq
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from spanwise.demo import world
from spanwise.sdk import Spanwise

LABEL_SHARE = 0.85
FEEDBACK_DELAY_S = (2.0, 6.0)


class DelayedFeedback:
    """Labels due later, sent by one thread through the SDK's batched feedback."""

    def __init__(self, sdk: Spanwise) -> None:
        self._sdk, self._lock = sdk, threading.Lock()
        self._due: list[tuple[float, int, str, Any]] = []
        self._stop, self._count = threading.Event(), 0
        self._thread = threading.Thread(target=self._run, name="demo-feedback", daemon=True)
        self._thread.start()

    def later(self, delay_s: float, prediction_id: str, label: Any) -> None:
        with self._lock:
            self._count += 1
            heapq.heappush(self._due, (time.monotonic() + delay_s, self._count, prediction_id, label))

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._send(time.monotonic())

    def _send(self, until: float) -> None:
        with self._lock:
            while self._due and self._due[0][0] <= until:
                _, _, prediction_id, label = heapq.heappop(self._due)
                self._sdk.feedback(prediction_id, label)

    def stop(self) -> None:
        """Send everything still due, now."""
        self._stop.set()
        self._thread.join()
        self._send(float("inf"))


def run(url: str, feedback_sdk: Spanwise, duration_s: float, rate: float, seed: int) -> Counter[str]:
    """Drive the frontend for `duration_s`; returns counts of ok / failed requests."""
    rng, lock, counts = np.random.default_rng(seed), threading.Lock(), Counter[str]()
    feedback = DelayedFeedback(feedback_sdk)

    def one(customer: int) -> None:
        try:
            answer = _post(url + "/page", {"customer_id": customer})
        except (urllib.error.URLError, OSError):
            with lock:
                counts["failed"] += 1
            return
        frame = pd.DataFrame([answer["features"]])
        with lock:
            counts["ok"] += 1
            churned, value = world.churn_labels(rng, frame)[0], world.lifetime_value(rng, frame)[0]
            labelled, delay = rng.random() < LABEL_SHARE, rng.uniform(*FEEDBACK_DELAY_S)
        if labelled:
            feedback.later(delay, answer["churn"]["prediction_id"], str(churned))
            feedback.later(delay, answer["ltv"]["prediction_id"], float(value))

    deadline, tick = time.monotonic() + duration_s, 1.0 / max(rate, 0.1)
    with ThreadPoolExecutor(max_workers=8) as pool:
        next_at = time.monotonic()
        while next_at < deadline:
            pool.submit(one, int(rng.integers(1, 200_000)))
            next_at += tick
            time.sleep(max(0.0, next_at - time.monotonic()))
    feedback.stop()
    return counts


def _post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        return dict(json.loads(response.read()))
